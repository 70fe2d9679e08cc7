#!/usr/bin/env bash
# `make calibrate`: rebuild both calibration help centres (the demo shop's and Sundar Ghar's) and
# write kb_index/calibration.yml (fusion weights, answer thresholds) from their calibration questions.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
work="$ROOT/.run/calibration"
mkdir -p "$work"
"$VENV_APP/bin/python" -m kb_index build kb_index/demo --index "$work/demo" --quiet
"$VENV_APP/bin/python" -m kb_index build kb_index/calibration/sundarghar/articles --index "$work/sundarghar" --quiet
"$VENV_APP/bin/python" -m kb_index.calibrate --write \
  --set "$work/demo" kb_index/calibration/questions.yml \
  --set "$work/sundarghar" kb_index/calibration/sundarghar/questions.yml
