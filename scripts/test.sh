#!/usr/bin/env bash
# `make test`: set up whatever is missing, then run every suite; fails if any fails.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" all
MODEL="$("$ROOT/scripts/train.sh")"
export SAATHI_TEST_MODEL="$MODEL"
mkdir -p "$ROOT/tests/artifacts"
failed=()

say "rasa data validate"
"$VENV_RASA/bin/rasa" data validate --config config.yml --domain domain.yml --data data \
  || failed+=("rasa data validate")

say "story tests (every intent in every language form)"
"$VENV_RASA/bin/rasa" test core --model "$MODEL" --stories tests/stories \
  --fail-on-prediction-errors --out tests/artifacts/story-results \
  || failed+=("story tests")

say "pytest: bot/ (Python 3.10, Rasa)"
"$VENV_RASA/bin/python" -m pytest -q tests/bot -p no:cacheprovider || failed+=("pytest tests/bot")

say "pytest: actions/, kb_index/ (Python 3.11)"
"$VENV_APP/bin/python" -m pytest -q tests/actions tests/kb_index -p no:cacheprovider || failed+=("pytest app side")

if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "all test suites passed"
