#!/usr/bin/env bash
# `make eval-oos`: what shoppers get for out-of-scope requests (tests/oos_heldout, five forms): each
# message as a new conversation on a fresh stack (bench/eval_oos.py); the table goes to
# docs/results/oos_eval.md. Exit 1 if a bar is missed. Extra arguments go to bench/eval_oos.py
# (--forms en,hi, --limit N, --results PATH, --timeout S).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" all
MODEL="$("$ROOT/scripts/train.sh")"
exec "$VENV_RASA/bin/python" bench/eval_oos.py "$MODEL" \
  --command "${SAATHI_EVAL_COMMAND:-scripts/eval_oos.sh${*:+ $*}}" "$@"
