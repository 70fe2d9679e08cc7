#!/usr/bin/env bash
# A real, private PostgreSQL server for Saathi's tests. Run it; do not source it.
#
#   scripts/postgres.sh [start]   ensure a server; prints ONE line on stdout:
#                                   SAATHI_TEST_PG_URL=postgresql+psycopg2://postgres@127.0.0.1:PORT/saathi_test
#                                 use it as:  export "$(scripts/postgres.sh)"
#   scripts/postgres.sh status    exit 0 (and print the same line) if the project cluster is running
#   scripts/postgres.sh stop      stop the project cluster (data is kept; next start is fast)
#   scripts/postgres.sh purge     stop it and delete its data directory
#
# start:
#   1. If SAATHI_TEST_PG_URL is set and answers `select 1`, print it and touch nothing.
#   2. Find the server binaries ($SAATHI_PG_BINDIR, /usr/lib/postgresql/*/bin, or pg_ctl on PATH);
#      if there are none, `apt-get install -y --no-install-recommends postgresql` (sudo when not
#      root; `apt-get update` only if the first try fails).
#   3. Start (or reuse) a throwaway cluster that is NOT the system one: initdb into .run/pg/data,
#      listening only on 127.0.0.1:${SAATHI_TEST_PG_PORT:-55432} and a socket in .run/pg/sock,
#      (if SAATHI_TEST_PG_PORT is unset and something else holds 55432, the next free port up to
#      55441 is used; an explicit SAATHI_TEST_PG_PORT is never changed: busy means an error),
#      trust auth, fsync off. As root it runs as the `postgres` user; if that user cannot reach
#      the checkout (or the socket path would be too long) the cluster lives in /tmp/saathi-pg-$UID.
#      $SAATHI_TEST_PG_DIR overrides the location.
#   4. Create database saathi_test if missing.
# Log messages go to stderr; the server log is <cluster dir>/postgres.log.
source "$(dirname "$0")/lib.sh"

PORT="${SAATHI_TEST_PG_PORT:-55432}"
PORT_EXPLICIT=0; [ -n "${SAATHI_TEST_PG_PORT:-}" ] && PORT_EXPLICIT=1
DB=saathi_test
pg_url() { echo "postgresql+psycopg2://postgres@127.0.0.1:$1/$DB"; }
IS_ROOT=0; [ "$(id -u)" = 0 ] && IS_ROOT=1
BIN=""

# --- helpers -------------------------------------------------------------------------------

# Run a command as the cluster owner: `postgres` when we are root, else ourselves.
# fd 9 (the start lock) is closed so a server started here never holds the lock.
as_owner() {
  if [ "$IS_ROOT" = 0 ]; then "$@" 9>&-; return; fi
  if command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u postgres -- "$@" 9>&-)
  else
    (cd / && su -s /bin/sh postgres -c 'exec "$@"' sh "$@" 9>&-)
  fi
}

find_bindir() {
  local d
  for d in "${SAATHI_PG_BINDIR:-}" \
           $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) \
           "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)")"; do
    [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] || continue
    echo "$d"; return 0
  done
  return 1
}

# A client tool (psql, pg_isready, createdb): the server's own, else whatever is on PATH.
client() {
  local tool="$1"; shift
  if [ -n "$BIN" ] && [ -x "$BIN/$tool" ]; then "$BIN/$tool" "$@"; else "$tool" "$@"; fi
}

install_postgres() {
  command -v apt-get >/dev/null 2>&1 \
    || die "PostgreSQL server binaries not found and apt-get is unavailable. Install PostgreSQL (server), set SAATHI_PG_BINDIR=/path/to/bin, or set SAATHI_TEST_PG_URL to a reachable database."
  local -a pre=(env DEBIAN_FRONTEND=noninteractive)
  if [ "$IS_ROOT" = 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      die "PostgreSQL is not installed and you are not root (no sudo). Run: apt-get install postgresql — or set SAATHI_TEST_PG_URL."
    elif sudo -n true 2>/dev/null; then pre=(sudo -n "${pre[@]}")
    elif [ -t 0 ]; then pre=(sudo "${pre[@]}")
    else die "PostgreSQL is not installed and sudo needs a password. Run: sudo apt-get install postgresql — or set SAATHI_TEST_PG_URL."
    fi
  fi
  say "installing PostgreSQL: apt-get install -y --no-install-recommends postgresql"
  if ! "${pre[@]}" apt-get install -y -q --no-install-recommends postgresql >&2; then
    say "install failed; running apt-get update and retrying"
    "${pre[@]}" apt-get update -q >&2 \
      && "${pre[@]}" apt-get install -y -q --no-install-recommends postgresql >&2 \
      || die "could not install PostgreSQL with apt-get (see above). Install it yourself or set SAATHI_TEST_PG_URL."
  fi
}

# Where the cluster lives. With create=1 the directory is made and handed to the owner.
BASE=""
resolve_base() {
  local create="$1" repo="$ROOT/.run/pg" tmp="/tmp/saathi-pg-$(id -u)"
  if [ -n "${SAATHI_TEST_PG_DIR:-}" ]; then BASE="$SAATHI_TEST_PG_DIR"
  elif [ -f "$repo/data/PG_VERSION" ]; then BASE="$repo"
  elif [ -f "$tmp/data/PG_VERSION" ]; then BASE="$tmp"
  elif [ "$create" = 0 ]; then BASE="$repo"; return 0
  else
    BASE="$repo"
    # Unix socket paths are limited to ~107 bytes.
    [ ${#repo} -gt 80 ] && BASE="$tmp"
    if [ "$BASE" = "$repo" ] && [ "$IS_ROOT" = 1 ]; then
      mkdir -p "$repo" && chown postgres: "$repo" && chmod 700 "$repo"
      if ! as_owner test -w "$repo" -a -x "$repo"; then
        say "user postgres cannot reach $repo; putting the cluster in $tmp"
        rmdir "$repo" 2>/dev/null || true
        BASE="$tmp"
      fi
    fi
  fi
  [ "$create" = 1 ] || return 0
  mkdir -p "$BASE"
  chmod 700 "$BASE"
  if [ "$IS_ROOT" = 1 ]; then
    chown postgres: "$BASE"
    as_owner test -w "$BASE" -a -x "$BASE" || die "user postgres cannot write $BASE; set SAATHI_TEST_PG_DIR to a directory it can use."
  fi
  as_owner mkdir -p "$BASE/sock"
}

# Is the cluster in $BASE running? Prints its port.
running_port() {
  local pidfile="$BASE/data/postmaster.pid"
  [ -f "$pidfile" ] || return 1
  as_owner "$BIN/pg_ctl" -D "$BASE/data" status >/dev/null 2>&1 || return 1
  sed -n 4p "$pidfile"
}

reachable_url() {  # $1 = SQLAlchemy-style URL; true if `select 1` works
  local libpq
  libpq="$(printf '%s' "$1" | sed -E 's#^postgres(ql)?(\+[A-Za-z0-9_]+)?://#postgresql://#')"
  if command -v psql >/dev/null 2>&1; then
    PGCONNECT_TIMEOUT=5 psql "$libpq" -XtAqc 'select 1' >/dev/null 2>&1
  elif command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -t 5 -d "$libpq"
  elif [ -x "$VENV_APP/bin/python" ]; then
    "$VENV_APP/bin/python" - "$1" >/dev/null 2>&1 <<'EOF'
import sys, sqlalchemy
with sqlalchemy.create_engine(sys.argv[1], connect_args={"connect_timeout": 5}).connect() as c:
    c.execute(sqlalchemy.text("select 1"))
EOF
  else
    return 1
  fi
}

# Does anything accept TCP connections on 127.0.0.1:$1?
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

masked() { printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#'; }

need_bin() {
  BIN="$(find_bindir)" && return 0
  install_postgres
  BIN="$(find_bindir)" || die "PostgreSQL was installed but no server binaries were found under /usr/lib/postgresql/*/bin; set SAATHI_PG_BINDIR."
}

if [ "$IS_ROOT" = 1 ]; then
  ensure_pg_user() {
    getent passwd postgres >/dev/null \
      || die "running as root, and there is no 'postgres' user to run the server as (PostgreSQL refuses root). Create one, or run as a normal user."
  }
else
  ensure_pg_user() { :; }
fi

# --- commands ------------------------------------------------------------------------------

cmd_start() {
  if [ -n "${SAATHI_TEST_PG_URL:-}" ]; then
    if reachable_url "$SAATHI_TEST_PG_URL"; then
      say "using SAATHI_TEST_PG_URL=$(masked "$SAATHI_TEST_PG_URL") (reachable)"
      echo "SAATHI_TEST_PG_URL=$SAATHI_TEST_PG_URL"
      return 0
    fi
    say "SAATHI_TEST_PG_URL=$(masked "$SAATHI_TEST_PG_URL") is set but not reachable; starting the project cluster instead"
  fi

  need_bin
  ensure_pg_user
  resolve_base 1
  local data="$BASE/data" log="$BASE/postgres.log"

  # One starter at a time (parallel test runs share the cluster).
  if command -v flock >/dev/null 2>&1; then
    exec 9>>"$BASE/.lock"
    flock -w 120 9 || die "timed out waiting for another scripts/postgres.sh (lock $BASE/.lock)"
  fi

  local cur
  if cur="$(running_port)"; then
    if [ "$cur" = "$PORT" ] || [ "$PORT_EXPLICIT" = 0 ]; then
      PORT="$cur"
      say "reusing the project PostgreSQL cluster ($data, port $PORT)"
    else
      say "project cluster is running on port $cur; restarting it on $PORT"
      as_owner "$BIN/pg_ctl" -D "$data" -m fast -w stop >&2
      cur=""
    fi
  else
    cur=""
  fi

  if [ -z "$cur" ]; then
    if [ ! -f "$data/PG_VERSION" ]; then
      say "initdb $data ($("$BIN/postgres" --version))"
      rm -rf "$data"
      as_owner "$BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C >"$BASE/initdb.log" 2>&1 \
        || { cat "$BASE/initdb.log" >&2; die "initdb failed"; }
      as_owner sh -c 'cat >> "$1"' sh "$data/postgresql.conf" <<EOF

# --- Saathi test cluster (scripts/postgres.sh): private, throwaway, never for real data ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$BASE/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    fi
    # Never talk to someone else's server: pick a port nothing listens on.
    local p tries=1
    [ "$PORT_EXPLICIT" = 1 ] || tries=10
    for ((p = PORT; p < PORT + tries; p++)); do
      port_busy "$p" || break
      say "port $p on 127.0.0.1 is taken by another program"
    done
    if [ "$p" -ge $((PORT + tries)) ]; then
      die "no free port for the test cluster (tried $PORT..$((PORT + tries - 1))); set SAATHI_TEST_PG_PORT to a free port, or SAATHI_TEST_PG_URL to a database to use."
    fi
    PORT="$p"
    say "starting PostgreSQL on 127.0.0.1:$PORT (log: $log)"
    if ! as_owner "$BIN/pg_ctl" -D "$data" -l "$log" -o "-p $PORT" -w -t 60 start >/dev/null; then
      tail -n 30 "$log" >&2 || true
      die "PostgreSQL did not start (log: $log)"
    fi
  fi

  local have
  have="$(client psql -XtAq -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
          -c "select 1 from pg_database where datname = '$DB'")" \
    || die "cannot connect to the project cluster on 127.0.0.1:$PORT"
  if [ "$have" != 1 ]; then
    say "creating database $DB"
    client createdb -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
  fi
  echo "SAATHI_TEST_PG_URL=$(pg_url "$PORT")"
}

cmd_status() {
  BIN="$(find_bindir)" || { say "PostgreSQL is not installed"; return 1; }
  resolve_base 0
  local cur
  if cur="$(running_port)"; then
    say "project cluster running: $BASE/data, port $cur"
    echo "SAATHI_TEST_PG_URL=$(pg_url "$cur")"
  else
    say "project cluster not running ($BASE/data)"
    return 1
  fi
}

cmd_stop() {
  BIN="$(find_bindir)" || { say "PostgreSQL is not installed; nothing to stop"; return 0; }
  resolve_base 0
  if running_port >/dev/null; then
    say "stopping the project PostgreSQL cluster ($BASE/data)"
    as_owner "$BIN/pg_ctl" -D "$BASE/data" -m fast -w -t 60 stop >/dev/null
  else
    say "project PostgreSQL cluster is not running"
  fi
}

cmd_purge() {
  cmd_stop
  resolve_base 0
  if [ -d "$BASE/data" ]; then
    say "deleting $BASE"
    rm -rf "$BASE"
  fi
}

case "${1:-start}" in
  start) cmd_start ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  purge) cmd_purge ;;
  *) die "usage: scripts/postgres.sh [start|status|stop|purge]" ;;
esac
