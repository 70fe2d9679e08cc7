#!/usr/bin/env bash
# `make bench`: help-centre index figures, Saathi vs a bare `rasa init` bot (trained and served in
# the same run), then order-status turns at 10k and 1M orders, handoff delivery times and channel
# webhook latency (against the bare bot's REST turn). Each writes its file in docs/results/.
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"
status=0
"$VENV_APP/bin/python" bench/bench_kb.py --write-readme || status=1
"$VENV_RASA/bin/python" bench/bench_rasa.py --write-readme "$@" || status=1
MODEL="$("$ROOT/scripts/train.sh")"
"$VENV_APP/bin/python" bench/bench_orders.py "$MODEL" --write-readme || status=1
"$VENV_RASA/bin/python" bench/bench_handoff.py "$MODEL" --write-readme || status=1
"$VENV_RASA/bin/python" bench/bench_channels.py "$MODEL" --write-readme || status=1
exit $status
