#!/usr/bin/env bash
# `make fuzz`: 10,000 generated inputs at every public endpoint of a fresh stack (bench/fuzz.py).
# Extra arguments go to bench/fuzz.py (--count, --seconds, --seed, --workers).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" all
MODEL="$("$ROOT/scripts/train.sh")"
exec "$VENV_RASA/bin/python" bench/fuzz.py "$MODEL" "$@"
