# Shared shell helpers for Saathi's scripts. Source it; do not run it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_RASA="${SAATHI_VENV_RASA:-$ROOT/.venv-rasa}"
VENV_APP="${SAATHI_VENV_APP:-$ROOT/.venv}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '\033[1m[saathi]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[saathi] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Python 3.10 for Rasa 3.6: $SAATHI_PYTHON310, then pyenv, then PATH.
find_python310() {
  local c
  for c in "${SAATHI_PYTHON310:-}" \
           $(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.10.*/bin/python 2>/dev/null | sort -V -r) \
           "$(command -v python3.10 || true)"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

find_python311() {
  local c
  for c in "${SAATHI_PYTHON311:-}" "$(command -v python3.11 || true)" \
           $(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.11.*/bin/python 2>/dev/null | sort -V -r) \
           "$(command -v python3 || true)"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

hash_files() { cat "$@" | sha256sum | cut -c1-16; }

# need_pkg COMMAND PACKAGE: install a Debian package if its command is missing (as root).
need_pkg() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] && return 0
  [ "$(id -u)" = 0 ] || die "$1 is missing: apt-get install $2 (as root), then run again"
  say "installing $2 (apt-get install -y --no-install-recommends $2)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >&2 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >&2; } \
    || die "could not install $2"
}

# Load .env (without overriding the environment) so scripts see the same settings.
load_dotenv() {
  if [ -f "$ROOT/.env" ]; then
    local line key
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in ''|'#'*) continue;; esac
      key="${line%%=*}"
      [ -z "${!key:-}" ] && export "$line"
    done < "$ROOT/.env"
  fi
  return 0
}

# supervise NAME PIDFILE LOG CMD...: run CMD (output appended to LOG) and start it again whenever
# it exits, kill -9 included, after a short back-off (1 s, doubling while it keeps dying within
# 30 s of its start, at most 16 s). CMD's current pid is in PIDFILE; each exit adds a line to
# PIDFILE.exits. Run it in the background; TERM or INT stops CMD (TERM, then waits) and the supervisor.
supervise() {
  local name="$1" pidfile="$2" log="$3" backoff=1 delay started rc
  shift 3
  _supervised=""
  trap 'if [ -n "$_supervised" ]; then kill -TERM "$_supervised" 2>/dev/null || true; wait "$_supervised" 2>/dev/null || true; fi
        rm -f "$pidfile"; exit 0' TERM INT   # (Ctrl-C reaches the supervisor too)
  while true; do
    started=$SECONDS
    "$@" >>"$log" 2>&1 &
    _supervised=$!
    echo "$_supervised" >"$pidfile"
    rc=0; { wait "$_supervised"; } 2>/dev/null || rc=$?   # (no "Killed" notice: the exit is logged below)
    echo "$(date -u +%FT%TZ) exit $rc" >>"$pidfile.exits"
    if ((SECONDS - started < 30)); then
      delay=$backoff; backoff=$((backoff * 2 > 16 ? 16 : backoff * 2))
    else
      delay=1; backoff=2
    fi
    say "$name (pid $_supervised) exited with code $rc; starting it again in $delay s"
    _supervised=""
    sleep "$delay" & wait $! || true   # (a TERM ends the back-off at once)
  done
}

# Find a free block of 42 loopback ports for a private scaled profile; prints its first port.
free_port_block() {
  local base n p busy=1
  for ((base = 20000 + RANDOM % 200 * 100, n = 0; n < 20; n++, base += 100)); do
    busy=0
    for ((p = base; p <= base + 41; p++)); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && { busy=1; break; }; done
    [ "$busy" = 0 ] && { echo "$base"; return 0; }
  done
  return 1
}

# start_private_scaled NAME: start scripts/run_scaled.sh for a benchmark run with its own run
# dir, tokens and free ports (loopback only) and wait until it is ready. Sets WORK (its folder),
# SCALED_BASE (nginx's port; see run_scaled.sh for the others) and SCALED_PID; on EXIT the
# profile is stopped (TERM: a background job of a script ignores INT) and its PostgreSQL data
# deleted.
start_private_scaled() {
  WORK="$(mktemp -d "/tmp/saathi-$1-XXXXXX")"
  SCALED_BASE="$(free_port_block)" || die "no free block of ports for the scaled profile"
  export SAATHI_SCALED_PORT=$SCALED_BASE SAATHI_RUN_DIR="$WORK/run" SAATHI_ENV_FILE="$WORK/none.env"
  export SAATHI_SCALED_PG_DIR="$WORK/pg" SAATHI_AGENT_HOURS="00:00-23:59"
  export SAATHI_RASA_TOKEN="$(openssl rand -hex 16 2>/dev/null || echo "load$RANDOM$RANDOM$RANDOM")"
  export SAATHI_BRIDGE_TOKEN="b$SAATHI_RASA_TOKEN" SAATHI_BRIDGE_SECRET_KEY="s$SAATHI_RASA_TOKEN"
  export SAATHI_DEMO_AGENT_PASSWORD="p$SAATHI_RASA_TOKEN"
  [ "$(id -u)" = 0 ] && { chmod 755 "$WORK"; mkdir -p "$WORK/pg"; chown postgres: "$WORK/pg"; }
  "$ROOT/scripts/run_scaled.sh" > "$WORK/run_scaled.out" 2> "$WORK/run_scaled.log" &
  SCALED_PID=$!
  trap stop_private_scaled EXIT
  say "starting the scaled profile on ports $SCALED_BASE.. (log $WORK/run_scaled.log); this takes a few minutes"
  local i
  for ((i = 0; i < 900; i++)); do
    grep -q SAATHI_SCALED_READY "$WORK/run_scaled.out" 2>/dev/null && return 0
    kill -0 "$SCALED_PID" 2>/dev/null || { tail -20 "$WORK/run_scaled.log" >&2; die "the scaled profile did not start"; }
    sleep 1
  done
  die "the scaled profile was not ready in 15 minutes"
}
stop_private_scaled() {
  local i
  kill -TERM "$SCALED_PID" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do kill -0 "$SCALED_PID" 2>/dev/null || break; sleep 1; done
  kill -9 "$SCALED_PID" 2>/dev/null || true
  rm -rf "$WORK/pg"
  say "logs of this run: $WORK"
}
