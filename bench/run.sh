#!/usr/bin/env bash
# `make bench`: Saathi vs a bare `rasa init` bot, trained and served in the same run.
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"
exec "$VENV_RASA/bin/python" bench/bench_rasa.py --write-readme "$@"
