#!/usr/bin/env bash
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
MODEL="$("$ROOT/scripts/train.sh")"
"$VENV_RASA/bin/python" scripts/eval_nlu.py "$MODEL" --write-readme
