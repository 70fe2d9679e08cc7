#!/usr/bin/env bash
# Train only when data, config, domain or Rasa-side code changed. Prints the model path.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
MODELS="${SAATHI_MODELS_DIR:-$ROOT/models}"
mkdir -p "$MODELS"
# The sentence encoder's record too: its vectors are features of the trained model (bot/nlu/encoder.py).
encoder_record="${SAATHI_ENCODER_DIR:-$ROOT/.models}/multilingual-e5-small/saathi_model.json"
[ -f "$encoder_record" ] || "$VENV_APP/bin/python" -m kb_index.e5_model build --out "$(dirname "$encoder_record")" >&2
files=$(ls config.yml domain.yml requirements/rasa.lock kb_index/onnx_file.py "$encoder_record"; find data bot -type f \( -name '*.yml' -o -name '*.py' \) | sort)
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
