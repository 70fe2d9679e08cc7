#!/usr/bin/env bash
# `make loadtest`: start the scaled profile (scripts/run_scaled.sh) on a free block of ports, run
# bench/loadtest.py against it (SAATHI_LOAD_SHOPPERS shoppers, default 50; SAATHI_LOAD_SECONDS of
# new messages, default 120), print the figures, stop everything. Loopback only.
# SAATHI_LOAD_RASA_URL / SAATHI_LOAD_BRIDGE_URL: test a stack that is already running instead
# (with SAATHI_RASA_TOKEN and SAATHI_DEMO_AGENT_PASSWORD of that stack).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" all
load_dotenv
OUT="${SAATHI_LOAD_OUT:-$ROOT/bench/results/loadtest.json}"
mkdir -p "$(dirname "$OUT")"
args=(--shoppers "${SAATHI_LOAD_SHOPPERS:-50}" --duration "${SAATHI_LOAD_SECONDS:-120}" --out "$OUT")

if [ -n "${SAATHI_LOAD_RASA_URL:-}" ]; then
  exec "$VENV_RASA/bin/python" -m bench.loadtest --rasa "$SAATHI_LOAD_RASA_URL" \
    --bridge "${SAATHI_LOAD_BRIDGE_URL:?set SAATHI_LOAD_BRIDGE_URL}" --token "${SAATHI_RASA_TOKEN:?}" \
    --agent-password "${SAATHI_DEMO_AGENT_PASSWORD:?}" "${args[@]}"
fi

# A private scaled profile for this run: its own run dir, tokens and ports (scripts/lib.sh).
start_private_scaled load
base=$SCALED_BASE
say "load: ${SAATHI_LOAD_SHOPPERS:-50} shoppers for ${SAATHI_LOAD_SECONDS:-120} s (machine: $(nproc) cores, $(uname -m))"
"$VENV_RASA/bin/python" -m bench.loadtest --rasa "http://127.0.0.1:$base" --bridge "http://127.0.0.1:$((base + 1))" \
  --token "$SAATHI_RASA_TOKEN" --agent-password "$SAATHI_DEMO_AGENT_PASSWORD" "${args[@]}"
