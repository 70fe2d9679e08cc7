#!/usr/bin/env bash
# `make run`: set up what is missing, train if needed, start every service, wait for each
# health check, print the URLs. Ctrl-C stops everything this script started.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh" all

# A token for Rasa's HTTP API: from the environment, else from .env, else a new one in .env.
load_dotenv
if [ -z "${SAATHI_RASA_TOKEN:-}" ]; then
  SAATHI_RASA_TOKEN="$("$VENV_APP/bin/python" -c 'import secrets; print(secrets.token_hex(24))')"
  printf '\n# Token for the Rasa HTTP API (created by make run)\nSAATHI_RASA_TOKEN=%s\n' "$SAATHI_RASA_TOKEN" >> "$ROOT/.env"
  chmod 600 "$ROOT/.env"
  say "created a random SAATHI_RASA_TOKEN in $ROOT/.env"
fi
export SAATHI_RASA_TOKEN
# The bridge's service token (action server, Rasa's event broker) and console cookie key, likewise.
new_secret() { "$VENV_APP/bin/python" -c 'import secrets; print(secrets.token_hex(24))'; }
if [ -z "${SAATHI_BRIDGE_TOKEN:-}" ]; then
  SAATHI_BRIDGE_TOKEN="$(new_secret)"
  printf '# Bearer token of the handoff bridge API (created by make run)\nSAATHI_BRIDGE_TOKEN=%s\n' "$SAATHI_BRIDGE_TOKEN" >> "$ROOT/.env"
  say "created a random SAATHI_BRIDGE_TOKEN in $ROOT/.env"
fi
if [ -z "${SAATHI_BRIDGE_SECRET_KEY:-}" ]; then
  SAATHI_BRIDGE_SECRET_KEY="$(new_secret)"
  printf '# Signs agent console sessions (created by make run)\nSAATHI_BRIDGE_SECRET_KEY=%s\n' "$SAATHI_BRIDGE_SECRET_KEY" >> "$ROOT/.env"
fi
export SAATHI_BRIDGE_TOKEN SAATHI_BRIDGE_SECRET_KEY

# Every other setting from the one app-side configuration module.
eval "$("$VENV_APP/bin/python" -m actions.config --shell | sed 's/^/export /')"
mkdir -p "$SAATHI_RUN_DIR"
MODEL="$("$ROOT/scripts/train.sh")"
if ! "$VENV_APP/bin/python" -m kb_index check --index "$SAATHI_KB_INDEX" 2>/dev/null; then
  say "building the demo help-centre index into $SAATHI_KB_INDEX (missing, or built for another model or format)"
  "$ROOT/scripts/kb.sh"
fi
# The demo shop's orders, only when the order database is empty (imports are never touched).
if [ "${SAATHI_ORDER_PROVIDER:-sql}" = "sql" ]; then
  "$VENV_APP/bin/python" -m actions.orders seed-demo
fi

# A first console login when the bridge has no agent yet (password kept in .env, shown once).
if [ -z "${SAATHI_DEMO_AGENT_PASSWORD:-}" ]; then
  SAATHI_DEMO_AGENT_PASSWORD="$(new_secret | cut -c1-16)"
  printf '# Password of the demo console admin admin@saathi.local (created by make run)\nSAATHI_DEMO_AGENT_PASSWORD=%s\n' \
    "$SAATHI_DEMO_AGENT_PASSWORD" >> "$ROOT/.env"
fi
export SAATHI_DEMO_AGENT_PASSWORD
"$VENV_APP/bin/python" -m handoff_bridge create-agent --name "Demo Admin" --email admin@saathi.local \
  --password-env SAATHI_DEMO_AGENT_PASSWORD --languages en,hi,bn,hi-Latn,bn-Latn --role admin --capacity 5 \
  >/dev/null 2>&1 && say "created the console admin admin@saathi.local (password: SAATHI_DEMO_AGENT_PASSWORD in .env)"

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  [ ${#PIDS[@]} -gt 0 ] || exit 0
  say "stopping services"
  kill "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
  exit 0
}
trap cleanup INT TERM EXIT

wait_for() { # name url seconds
  local name="$1" url="$2" limit="$3" i
  for ((i = 0; i < limit; i++)); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then say "$name is up"; return 0; fi
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || die "$name exited; see $SAATHI_RUN_DIR/*.log"; done
    sleep 1
  done
  die "$name did not answer $url within $limit s; see $SAATHI_RUN_DIR/*.log"
}

say "starting the action server on port $SAATHI_ACTION_PORT"
"$VENV_APP/bin/python" -m rasa_sdk --actions actions --port "$SAATHI_ACTION_PORT" \
  > "$SAATHI_RUN_DIR/actions.log" 2>&1 &
PIDS+=($!)

say "starting the handoff bridge on port $SAATHI_BRIDGE_PORT (waitress, $SAATHI_BRIDGE_WORKERS threads)"
"$VENV_APP/bin/python" -m handoff_bridge serve > "$SAATHI_RUN_DIR/bridge.log" 2>&1 &
PIDS+=($!)

say "starting the Rasa server on port $SAATHI_RASA_PORT (model $(basename "$MODEL"))"
# SAATHI_CORS_ORIGINS: origins separated by commas or spaces (the website socket reads the same list).
CORS_LIST="${SAATHI_CORS_ORIGINS:-}"
read -ra CORS_ORIGINS <<< "${CORS_LIST//,/ }"
"$VENV_RASA/bin/rasa" run --model "$MODEL" --port "$SAATHI_RASA_PORT" \
  --enable-api --auth-token="$SAATHI_RASA_TOKEN" \
  --credentials credentials.yml --endpoints endpoints.yml \
  --cors "http://127.0.0.1:$SAATHI_BRIDGE_PORT" "${CORS_ORIGINS[@]}" \
  > "$SAATHI_RUN_DIR/rasa.log" 2>&1 &
PIDS+=($!)

wait_for "action server" "http://127.0.0.1:$SAATHI_ACTION_PORT/health" 120
wait_for "handoff bridge" "http://127.0.0.1:$SAATHI_BRIDGE_PORT/health" 60
wait_for "Rasa server" "http://127.0.0.1:$SAATHI_RASA_PORT/status?token=$SAATHI_RASA_TOKEN" 300

cat >&2 <<MSG

  Saathi is running.
    Rasa server    $SAATHI_RASA_URL   (HTTP API needs ?token=\$SAATHI_RASA_TOKEN from .env)
    REST webhook   $SAATHI_RASA_URL/webhooks/rest/webhook
    Action server  http://127.0.0.1:$SAATHI_ACTION_PORT/health
    Agent console  $SAATHI_BRIDGE_URL/console/  (admin@saathi.local, password SAATHI_DEMO_AGENT_PASSWORD in .env)
    Logs           $SAATHI_RUN_DIR/
  Try: curl -s -XPOST $SAATHI_RASA_URL/webhooks/rest/webhook -d '{"sender":"me","message":"mera order kab aayega"}'
  Ctrl-C stops everything.

MSG
wait -n "${PIDS[@]}" || true
say "a service stopped; see $SAATHI_RUN_DIR/*.log"
