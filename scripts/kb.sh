#!/usr/bin/env bash
# `make kb`: (re)build the demo help-centre index, incrementally and atomically.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
load_dotenv
eval "$("$VENV_APP/bin/python" -m actions.config --shell | grep -E '^SAATHI_(KB_INDEX|EMBED_MODEL|KB_GLOSSARY)=' | sed 's/^/export /')"
"$VENV_APP/bin/python" -m kb_index build "$ROOT/kb_index/demo" --index "$SAATHI_KB_INDEX" --model "$SAATHI_EMBED_MODEL"
