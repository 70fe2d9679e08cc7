#!/usr/bin/env bash
# Train only when data, config, domain or Rasa-side code changed. Prints the model path.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
MODELS="${SAATHI_MODELS_DIR:-$ROOT/models}"
mkdir -p "$MODELS"
files=$(ls config.yml domain.yml requirements/rasa.lock; find data bot -type f \( -name '*.yml' -o -name '*.py' \) | sort)
digest="$(hash_files $files)"
model="$MODELS/saathi-$digest.tar.gz"
if [ -f "$model" ]; then
  say "model is up to date: $model"
else
  say "training (data or config changed) -> $model"
  start=$(date +%s)
  "$VENV_RASA/bin/rasa" train --config config.yml --domain domain.yml --data data \
      --out "$MODELS" --fixed-model-name "saathi-$digest" --quiet >&2
  say "trained in $(( $(date +%s) - start )) s"
fi
echo "$model"
