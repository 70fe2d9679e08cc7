#!/usr/bin/env bash
# `make test`: set up whatever is missing, then run every suite; fails if any fails.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" all
MODEL="$("$ROOT/scripts/train.sh")"
export SAATHI_TEST_MODEL="$MODEL"
mkdir -p "$ROOT/tests/artifacts"
# Debian's Chromium for the browser tests (Playwright drives it; it never downloads one).
SAATHI_CHROMIUM="$("$ROOT/scripts/chromium.sh")" || die "Chromium is needed for the browser tests"
export SAATHI_CHROMIUM
failed=()

say "rasa data validate"
"$VENV_RASA/bin/rasa" data validate --config config.yml --domain domain.yml --data data \
  || failed+=("rasa data validate")

say "story tests (every intent in every language form)"
"$VENV_RASA/bin/rasa" test core --model "$MODEL" --stories tests/stories \
  --fail-on-prediction-errors --out tests/artifacts/story-results \
  || failed+=("story tests")

say "pytest: bot/ (Python 3.10, Rasa)"
need_pkg redis-server redis-server  # the Redis lock store's tests start their own server
"$VENV_RASA/bin/python" -m pytest -q tests/bot -p no:cacheprovider || failed+=("pytest tests/bot")

say "PostgreSQL for the app-side tests (scripts/postgres.sh)"
# A real server: SAATHI_TEST_PG_URL if it is reachable, else the project's own throwaway cluster
# (installed and started if needed). Stopped at exit only if this run started it.
pg_was_running=0
"$ROOT/scripts/postgres.sh" status >/dev/null 2>&1 && pg_was_running=1
if pg_line="$("$ROOT/scripts/postgres.sh" start)" && [[ "$pg_line" == SAATHI_TEST_PG_URL=?* ]]; then
  export "$pg_line"
  if [ "$pg_was_running" = 0 ] && "$ROOT/scripts/postgres.sh" status >/dev/null 2>&1; then
    trap '"$ROOT/scripts/postgres.sh" stop || true' EXIT
  fi
else
  failed+=("postgres (scripts/postgres.sh)")
  unset SAATHI_TEST_PG_URL
fi

say "pytest: actions/, kb_index/, handoff_bridge/ (Python 3.11)"
"$VENV_APP/bin/python" -m pytest -q tests/actions tests/kb_index tests/handoff_bridge -p no:cacheprovider || failed+=("pytest app side")

if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "all test suites passed"
