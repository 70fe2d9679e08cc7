#!/usr/bin/env bash
# `make run-scaled`: the same assistant as `make run`, on distributed parts, all private to this
# checkout (under $SAATHI_RUN_DIR/scaled, loopback only) and started from Debian's packages:
#
#   nginx :BASE    Rasa front door: socket.io sticky by the shopper's session (?sid_hint=),
#                  /conversations/<id>/... by the conversation id (same replica), the rest spread
#   nginx :BASE+1  bridge front door (console, service API) over SAATHI_SCALED_BRIDGES processes
#   nginx :BASE+2  action servers (internal: Rasa calls them through it)
#   Rasa replicas :BASE+10, +11   action servers :BASE+20, +21   bridge processes :BASE+30...
#   Redis :BASE+40 (Rasa's lock store)   PostgreSQL :BASE+41 (trackers, bridge, orders, ...)
#
# BASE is SAATHI_SCALED_PORT (8080). SAATHI_MODEL=path skips training (tests use it).
# Every Rasa replica, action server, bridge process and Redis runs under `supervise` (lib.sh): when
# one dies (kill -9 included) it is started again after a short back-off, while nginx sends its
# traffic to the others; the current pids are in $SAATHI_RUN_DIR/scaled/pids/ (make chaos uses them).
# Ctrl-C (or SIGTERM) stops everything this script started, PostgreSQL included (data is kept).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh" all
load_dotenv
new_secret() { "$VENV_APP/bin/python" -c 'import secrets; print(secrets.token_hex(24))'; }
ensure_secret() { # NAME comment: from the environment, else .env, else a new one in .env
  local name="$1"
  if [ -z "${!name:-}" ]; then
    printf -v "$name" '%s' "$(new_secret)"
    printf '# %s (created by make run-scaled)\n%s=%s\n' "$2" "$name" "${!name}" >> "$ROOT/.env"
    chmod 600 "$ROOT/.env"
    say "created a random $name in $ROOT/.env"
  fi
  export "${name?}"
}
ensure_secret SAATHI_RASA_TOKEN "Token for the Rasa HTTP API"
ensure_secret SAATHI_BRIDGE_TOKEN "Bearer token of the handoff bridge API"
ensure_secret SAATHI_BRIDGE_SECRET_KEY "Signs agent console sessions"
ensure_secret SAATHI_DEMO_AGENT_PASSWORD "Password of the demo console admin admin@saathi.local"

# --- where everything lives --------------------------------------------------------------------
eval "$("$VENV_APP/bin/python" -m actions.config --shell | grep -E '^SAATHI_(RUN_DIR|KB_INDEX|EMBED_MODEL)=' | sed 's/^/export /')"
S="$SAATHI_RUN_DIR/scaled"
PIDDIR="$S/pids"
rm -rf "$PIDDIR"
mkdir -p "$S" "$PIDDIR"
BASE="${SAATHI_SCALED_PORT:-8080}"
RASA_FRONT=$BASE BRIDGE_FRONT=$((BASE + 1)) ACTIONS_FRONT=$((BASE + 2))
REPLICAS=(${SAATHI_SCALED_REPLICA_PORTS:-$((BASE + 10)) $((BASE + 11))})
ACTION_PORTS=(${SAATHI_SCALED_ACTION_PORTS:-$((BASE + 20)) $((BASE + 21))})
NBRIDGES="${SAATHI_SCALED_BRIDGES:-2}"
BRIDGE_PORTS=(); for ((i = 0; i < NBRIDGES; i++)); do BRIDGE_PORTS+=($((BASE + 30 + i))); done
REDIS_PORT=$((BASE + 40)) PG_PORT=$((BASE + 41))
for p in $RASA_FRONT $BRIDGE_FRONT $ACTIONS_FRONT "${REPLICAS[@]}" "${ACTION_PORTS[@]}" "${BRIDGE_PORTS[@]}" $REDIS_PORT; do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null \
    && die "port $p on 127.0.0.1 is in use; set SAATHI_SCALED_PORT to another base (ports BASE..BASE+41)"
done

# --- Debian packages -----------------------------------------------------------------------------
need_pkg redis-server redis-server
need_pkg nginx nginx-light
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

PIDS=()
PG_ENV=()
NGINX_TMP=""
cleanup() {
  local code=$?
  trap - INT TERM EXIT
  say "stopping the scaled profile"
  [ ${#PIDS[@]} -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null || true
  local i
  for ((i = 0; i < 40; i++)); do
    kill -0 "${PIDS[@]}" 2>/dev/null || break
    sleep 0.5
  done
  [ ${#PIDS[@]} -gt 0 ] && kill -9 "${PIDS[@]}" 2>/dev/null || true
  local f  # a supervised process its supervisor could not stop in time
  for f in "$PIDDIR"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  [ ${#PG_ENV[@]} -gt 0 ] && env "${PG_ENV[@]}" "$ROOT/scripts/postgres.sh" stop || true
  case "$NGINX_TMP" in /tmp/saathi-nginx-*) rm -rf "$NGINX_TMP" ;; esac
  exit "$code"
}
trap cleanup INT TERM EXIT

# --- PostgreSQL: a private cluster of its own (scripts/postgres.sh), one database per part ------
PG_DIR="${SAATHI_SCALED_PG_DIR:-$S/pg}"
if [ -z "${SAATHI_SCALED_PG_DIR:-}" ] && [ "$(id -u)" = 0 ]; then
  # As root the server runs as `postgres`, which must be able to enter the directory.
  mkdir -p "$PG_DIR"; chown postgres: "$PG_DIR" 2>/dev/null || true
  runuser -u postgres -- test -w "$PG_DIR" 2>/dev/null || PG_DIR="/tmp/saathi-scaled-pg-$(id -u)"
fi
PG_ENV=(SAATHI_TEST_PG_URL= SAATHI_TEST_PG_DIR="$PG_DIR" SAATHI_TEST_PG_PORT="$PG_PORT")
env "${PG_ENV[@]}" "$ROOT/scripts/postgres.sh" start >/dev/null
PG="postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT"
for db in saathi_tracker saathi_bridge saathi_orders saathi_kb saathi_channels; do
  if [ "$(psql -XtAq -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
          -c "select 1 from pg_database where datname = '$db'")" != 1 ]; then
    psql -XqAt -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "create database $db" >/dev/null
  fi
done

export SAATHI_TRACKER_PG_HOST=127.0.0.1 SAATHI_TRACKER_PG_PORT=$PG_PORT SAATHI_TRACKER_PG_DB=saathi_tracker
export SAATHI_TRACKER_PG_USER=postgres SAATHI_TRACKER_PG_PASSWORD="${SAATHI_TRACKER_PG_PASSWORD:-}"
export SAATHI_REDIS_HOST=127.0.0.1 SAATHI_REDIS_PORT=$REDIS_PORT
export SAATHI_BRIDGE_DB="$PG/saathi_bridge" SAATHI_ORDERS_DB="$PG/saathi_orders"
export SAATHI_KB_DB="$PG/saathi_kb" SAATHI_CHANNEL_DB="$PG/saathi_channels"
export SAATHI_ACTION_URL="http://127.0.0.1:$ACTIONS_FRONT/webhook"
export SAATHI_BRIDGE_URL="http://127.0.0.1:$BRIDGE_FRONT" SAATHI_BRIDGE_PORT=$BRIDGE_FRONT
export SAATHI_RASA_URL="http://127.0.0.1:$RASA_FRONT" SAATHI_RASA_PORT=$RASA_FRONT
export SAATHI_RASA_PUBLIC_URL="${SAATHI_RASA_PUBLIC_URL:-$SAATHI_RASA_URL}"

if [ -n "${SAATHI_MODEL:-}" ]; then MODEL="$SAATHI_MODEL"; else MODEL="$("$ROOT/scripts/train.sh")"; fi
[ -f "$MODEL" ] || die "no trained model at $MODEL"
if [ ! -f "$SAATHI_KB_INDEX/CURRENT" ]; then
  say "building the demo help-centre index into $SAATHI_KB_INDEX"
  "$ROOT/scripts/kb.sh"
fi
"$VENV_APP/bin/python" -m actions.orders seed-demo >/dev/null
"$VENV_APP/bin/python" -m handoff_bridge create-agent --name "Demo Admin" --email admin@saathi.local \
  --password-env SAATHI_DEMO_AGENT_PASSWORD --languages en,hi,bn,hi-Latn,bn-Latn --role admin --capacity 5 \
  >/dev/null 2>&1 || true

# --- Redis (lock store): no persistence, locks live 60 s at most --------------------------------
mkdir -p "$S/redis"
supervise redis "$PIDDIR/redis.pid" "$S/redis.log" \
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes --save "" --appendonly no \
  --dir "$S/redis" --daemonize no --logfile "$S/redis.log" &
PIDS+=($!)

# --- nginx ---------------------------------------------------------------------------------------
# As root, nginx's workers run as www-data: their temp folder must be one that user can enter.
NGINX_TMP="$S/nginx-tmp" NGINX_USER=""
mkdir -p "$NGINX_TMP"
if [ "$(id -u)" = 0 ]; then
  NGINX_USER="user www-data;"
  chown www-data: "$NGINX_TMP"
  if ! runuser -u www-data -- test -w "$NGINX_TMP" 2>/dev/null; then
    NGINX_TMP="$(mktemp -d /tmp/saathi-nginx-XXXXXX)"; chown www-data: "$NGINX_TMP"
  fi
fi
# (proxy_set_header is inherited only by a block that sets none itself: repeated in each location)
HEADERS='proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;'
# A peer that refuses a connection (dead, or restarting) is skipped for fail_timeout; with
# `hash ... consistent` nginx then re-hashes the key onto the peers that are up.
servers() { local p; for p in "$@"; do echo "    server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"; done; }
cat > "$S/nginx.conf" <<NGINX
# Generated by scripts/run_scaled.sh: do not edit (it is rewritten at every start).
$NGINX_USER
worker_processes 1;
pid $S/nginx.pid;
error_log $S/nginx-error.log warn;
events { worker_connections 2048; }
http {
  log_format saathi '\$remote_addr [\$time_local] "\$request" \$status up=\$upstream_addr key=\$rasa_key';
  access_log $S/nginx-access.log saathi;
  client_body_temp_path $NGINX_TMP/body;
  proxy_temp_path $NGINX_TMP/proxy;
  fastcgi_temp_path $NGINX_TMP/fastcgi;
  uwsgi_temp_path $NGINX_TMP/uwsgi;
  scgi_temp_path $NGINX_TMP/scgi;
  client_max_body_size 1m;
  client_body_buffer_size 1m;   # requests to the action servers carry the tracker: keep in memory
  proxy_buffers 16 64k;

  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }

  # Which Rasa replica serves a request. A socket.io connection and the agent messages pushed to
  # that shopper through /conversations/<id>/tracker/events must meet in the same process (only it
  # can write to the socket), so both are hashed on the same key: the widget's session id, which
  # is the conversation id. The widget sends it as ?sid_hint= on every socket.io request; an
  # older client without it stays on one replica by its address. Everything else is spread.
  map \$request_uri \$rasa_key {
    ~^/conversations/(?<cid>[^/?]+)               \$cid;
    ~^/socket\.io/.*[?&]sid_hint=(?<hint>[^&]+)    \$hint;
    ~^/socket\.io/                                \$remote_addr;
    default                                       \$request_id;
  }
  upstream rasa {
    hash \$rasa_key consistent;
$(servers "${REPLICAS[@]}")
  }
  upstream actions {
$(servers "${ACTION_PORTS[@]}")
  }
  upstream bridge {
$(servers "${BRIDGE_PORTS[@]}")
  }
  proxy_http_version 1.1;
  # A request goes to the next peer when the connection fails (or a GET times out); a POST that
  # reached a Rasa replica or a bridge process is never sent to another one (no duplicated
  # messages). The connect timeout is short: a peer that does not accept in 2 s is skipped.
  proxy_next_upstream error timeout;
  proxy_connect_timeout 2s;

  server {
    listen 127.0.0.1:$RASA_FRONT;
    location /socket.io/ {
      proxy_pass http://rasa;
      $HEADERS
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_buffering off;
      proxy_read_timeout 120s;
    }
    location / {
      proxy_pass http://rasa;
      $HEADERS
      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }
  }
  server {
    listen 127.0.0.1:$BRIDGE_FRONT;
    location / {
      proxy_pass http://bridge;
      $HEADERS
      proxy_set_header Connection "";
      proxy_buffering off;      # server-sent events of the console
      proxy_read_timeout 600s;
    }
  }
  server {
    listen 127.0.0.1:$ACTIONS_FRONT;
    location / {
      proxy_pass http://actions;
      $HEADERS
      proxy_set_header Connection "";
      proxy_read_timeout 60s;
      # An action call whose server died before answering is run once more on the other action
      # server (Rasa itself would drop the action's events and the shopper would get no answer).
      # Actions that write are idempotent per conversation (a handoff, a verification), or say
      # what was already done (a cancelled order).
      proxy_next_upstream error timeout non_idempotent;
      proxy_next_upstream_tries 2;
    }
  }
}
NGINX
"$NGINX" -t -q -e "$S/nginx-error.log" -c "$S/nginx.conf" -p "$S" || die "nginx rejected $S/nginx.conf"
"$NGINX" -e "$S/nginx-error.log" -c "$S/nginx.conf" -p "$S" -g "daemon off;" &
PIDS+=($!)

# --- the Saathi processes --------------------------------------------------------------------------
wait_for() { # name url seconds
  local name="$1" url="$2" limit="$3" i pid f
  for ((i = 0; i < limit; i++)); do
    if curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null; then say "$name is up"; return 0; fi
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || die "$name: a process exited; see $S/*.log"; done
    for f in "$PIDDIR"/*.exits; do
      [ -f "$f" ] && [ "$(wc -l < "$f")" -ge 3 ] && die "$(basename "$f" .pid.exits) exited 3 times while starting; see $S/*.log"
    done
    sleep 1
  done
  die "$name did not answer $url within $limit s; see $S/*.log"
}

for i in "${!ACTION_PORTS[@]}"; do
  : > "$S/actions-$i.log"
  supervise "action server $i" "$PIDDIR/actions-$i.pid" "$S/actions-$i.log" \
    "$VENV_APP/bin/python" -m rasa_sdk --actions actions --port "${ACTION_PORTS[$i]}" &
  PIDS+=($!)
done
# Bridge processes one after another: the first creates the tables.
for i in "${!BRIDGE_PORTS[@]}"; do
  : > "$S/bridge-$i.log"
  supervise "bridge process $i" "$PIDDIR/bridge-$i.pid" "$S/bridge-$i.log" \
    "$VENV_APP/bin/python" -m handoff_bridge serve --cluster --port "${BRIDGE_PORTS[$i]}" &
  PIDS+=($!)
  wait_for "bridge process $i" "http://127.0.0.1:${BRIDGE_PORTS[$i]}/health" 90
done
for i in "${!REPLICAS[@]}"; do
  : > "$S/rasa-$i.log"
  supervise "Rasa replica $i" "$PIDDIR/rasa-$i.pid" "$S/rasa-$i.log" \
    "$VENV_RASA/bin/rasa" run --model "$MODEL" --port "${REPLICAS[$i]}" \
    --enable-api --auth-token="$SAATHI_RASA_TOKEN" \
    --credentials credentials.yml --endpoints endpoints.scaled.yml \
    --cors "${SAATHI_CORS_ORIGINS:-http://127.0.0.1:$BRIDGE_FRONT}" &
  PIDS+=($!)
done
for i in "${!ACTION_PORTS[@]}"; do
  wait_for "action server $i" "http://127.0.0.1:${ACTION_PORTS[$i]}/health" 300
done
for i in "${!REPLICAS[@]}"; do
  wait_for "Rasa replica $i" "http://127.0.0.1:${REPLICAS[$i]}/status?token=$SAATHI_RASA_TOKEN" 600
done
wait_for "nginx" "http://127.0.0.1:$RASA_FRONT/status?token=$SAATHI_RASA_TOKEN" 30

cat >&2 <<MSG

  Saathi (scaled profile) is running.
    Rasa (nginx)     $SAATHI_RASA_URL   replicas ${REPLICAS[*]}   (HTTP API: ?token=\$SAATHI_RASA_TOKEN)
    Agent console    $SAATHI_BRIDGE_URL/console/   bridge processes ${BRIDGE_PORTS[*]}
    Action servers   ${ACTION_PORTS[*]} behind 127.0.0.1:$ACTIONS_FRONT
    Redis lock store 127.0.0.1:$REDIS_PORT   PostgreSQL 127.0.0.1:$PG_PORT ($PG_DIR)
    Logs, config     $S/
  Ctrl-C stops everything.
MSG
echo "SAATHI_SCALED_READY $SAATHI_RASA_URL $SAATHI_BRIDGE_URL"
wait -n "${PIDS[@]}" || true
say "a process of the scaled profile stopped; see $S/*.log"
exit 1
