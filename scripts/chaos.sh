#!/usr/bin/env bash
# `make chaos`: start the scaled profile (scripts/run_scaled.sh) on a free block of ports, put it
# under load (SAATHI_CHAOS_SHOPPERS simulated shoppers, default 20) and, one at a time with a settle
# gap, kill -9 a Rasa replica, an action server and a bridge process and restart PostgreSQL and
# Redis (bench/chaos.py); print what shoppers saw per fault, write bench/results/chaos.json, stop
# everything. Exit 1 if a bar of issue 7 fails (a wait over 10 s after a fault, an acknowledged
# message lost). About 10 minutes on 2 cores. SAATHI_MODEL=path skips training.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" all
load_dotenv
OUT="${SAATHI_CHAOS_OUT:-$ROOT/bench/results/chaos.json}"
mkdir -p "$(dirname "$OUT")"
start_private_scaled chaos
say "chaos: ${SAATHI_CHAOS_SHOPPERS:-20} shoppers; faults one at a time (machine: $(nproc) cores, $(uname -m))"
"$VENV_RASA/bin/python" -m bench.chaos --rasa "http://127.0.0.1:$SCALED_BASE" \
  --bridge "http://127.0.0.1:$((SCALED_BASE + 1))" --token "$SAATHI_RASA_TOKEN" \
  --agent-password "$SAATHI_DEMO_AGENT_PASSWORD" --shoppers "${SAATHI_CHAOS_SHOPPERS:-20}" \
  --base "$SCALED_BASE" --scaled-dir "$SAATHI_RUN_DIR/scaled" --pg-dir "$SAATHI_SCALED_PG_DIR" \
  --command "make chaos (SAATHI_CHAOS_SHOPPERS=${SAATHI_CHAOS_SHOPPERS:-20})" --out "$OUT" "$@"
