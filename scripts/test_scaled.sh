#!/usr/bin/env bash
# `make test-scaled`: start the scaled profile (scripts/run_scaled.sh) and test it: both replicas
# serve, a conversation moves between them, the Redis lock store serialises one conversation,
# agent messages pushed through nginx reach each socket, Ctrl-C stops everything.
# Several minutes on 2 cores (two Rasa servers load the model), so it is not part of `make test`.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" all
SAATHI_TEST_MODEL="${SAATHI_TEST_MODEL:-$("$ROOT/scripts/train.sh")}"
export SAATHI_TEST_MODEL SAATHI_TEST_SCALED=1
"$VENV_RASA/bin/python" -m pytest -q tests/bot/test_scaled.py -p no:cacheprovider "$@"
