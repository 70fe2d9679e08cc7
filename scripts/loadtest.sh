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

# A private scaled profile for this run: its own run dir, tokens and ports.
WORK="$(mktemp -d /tmp/saathi-load-XXXXXX)"
for ((base = 20000 + RANDOM % 200 * 100, n = 0; n < 20; n++, base += 100)); do
  busy=0
  for ((p = base; p <= base + 41; p++)); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && { busy=1; break; }; done
  [ "$busy" = 0 ] && break
done
[ "$busy" = 0 ] || die "no free block of ports for the scaled profile"
export SAATHI_SCALED_PORT=$base SAATHI_RUN_DIR="$WORK/run" SAATHI_ENV_FILE="$WORK/none.env"
export SAATHI_SCALED_PG_DIR="$WORK/pg" SAATHI_AGENT_HOURS="00:00-23:59"
export SAATHI_RASA_TOKEN="$(openssl rand -hex 16 2>/dev/null || echo "load$RANDOM$RANDOM$RANDOM")"
export SAATHI_BRIDGE_TOKEN="b$SAATHI_RASA_TOKEN" SAATHI_BRIDGE_SECRET_KEY="s$SAATHI_RASA_TOKEN"
export SAATHI_DEMO_AGENT_PASSWORD="p$SAATHI_RASA_TOKEN"
[ "$(id -u)" = 0 ] && { chmod 755 "$WORK"; mkdir -p "$WORK/pg"; chown postgres: "$WORK/pg"; }

"$ROOT/scripts/run_scaled.sh" > "$WORK/run_scaled.out" 2> "$WORK/run_scaled.log" &
RUN_PID=$!
stop_profile() {  # TERM: a background job of a script ignores INT
  kill -TERM "$RUN_PID" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 1; done
  kill -9 "$RUN_PID" 2>/dev/null || true
  rm -rf "$WORK/pg"
  say "logs of this run: $WORK"
}
trap stop_profile EXIT
say "starting the scaled profile on ports $base.. (log $WORK/run_scaled.log); this takes a few minutes"
for ((i = 0; i < 900; i++)); do
  grep -q SAATHI_SCALED_READY "$WORK/run_scaled.out" 2>/dev/null && break
  kill -0 "$RUN_PID" 2>/dev/null || { tail -20 "$WORK/run_scaled.log" >&2; die "the scaled profile did not start"; }
  sleep 1
done
grep -q SAATHI_SCALED_READY "$WORK/run_scaled.out" || die "the scaled profile was not ready in 15 minutes"
say "load: ${SAATHI_LOAD_SHOPPERS:-50} shoppers for ${SAATHI_LOAD_SECONDS:-120} s (machine: $(nproc) cores, $(uname -m))"
"$VENV_RASA/bin/python" -m bench.loadtest --rasa "http://127.0.0.1:$base" --bridge "http://127.0.0.1:$((base + 1))" \
  --token "$SAATHI_RASA_TOKEN" --agent-password "$SAATHI_DEMO_AGENT_PASSWORD" "${args[@]}"
