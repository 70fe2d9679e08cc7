#!/usr/bin/env bash
# `make eval`: NLU intent accuracy and help-centre retrieval on the held-out sets; both
# tables are written into README.md.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
MODEL="$("$ROOT/scripts/train.sh")"
status=0
"$VENV_RASA/bin/python" scripts/eval_nlu.py "$MODEL" --write-readme || status=1
"$ROOT/scripts/kb.sh"
eval "$("$VENV_APP/bin/python" -m actions.config --shell | grep '^SAATHI_KB_INDEX=' | sed 's/^/export /')"
"$VENV_APP/bin/python" -m kb_index.evaluate --index "$SAATHI_KB_INDEX" tests/kb_heldout/questions.yml \
  --write-readme README.md || status=1
exit $status
