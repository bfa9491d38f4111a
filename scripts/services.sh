#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 and Redis on loopback, run a command against them, stop both.
#
#   scripts/services.sh [command [args...]]     (default: scripts/pytest.sh -n 2)
#
# Exports DATABASE_URL and REDIS_URL for the command and exits with its status. Both servers live in a
# fresh `mktemp -d` directory that is removed afterwards, whatever happens. Ports: PG_PORT (54329) and
# REDIS_PORT (63799). As root, PostgreSQL runs as the system user `postgres` (initdb refuses root).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PORT="${PG_PORT:-54329}"
REDIS_PORT="${REDIS_PORT:-63799}"
PG_DB=aep

log() { echo "[services] $*" >&2; }
die() { log "$*"; exit 1; }

if [ "$#" -eq 0 ]; then
    set -- scripts/pytest.sh -n 2
fi

apt_updated=0
apt_install() {
    [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null || die "missing $*; install it (apt-get install -y $*)."
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" -eq 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

find_pg_bin() {
    local dir
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

PG_BIN="$(find_pg_bin || true)"
if [ -z "$PG_BIN" ]; then
    log "PostgreSQL not found; installing."
    apt_install postgresql-15 || apt_install postgresql
    PG_BIN="$(find_pg_bin)" || die "PostgreSQL binaries not found after install."
fi
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    log "Redis not found; installing."
    apt_install redis-server
fi

# Run PostgreSQL commands as an unprivileged user when we are root.
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
    if command -v runuser >/dev/null; then
        as_pg() { runuser -u postgres -- "$@"; }
    else
        as_pg() { su -s /bin/bash postgres -c "$(printf '%q ' "$@")"; }
    fi
else
    as_pg() { "$@"; }
fi

WORK_DIR="$(mktemp -d)"
PG_DATA="$WORK_DIR/pgdata"
pg_started=0
redis_started=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$redis_started" -eq 1 ]; then
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
        if [ -f "$WORK_DIR/redis.pid" ]; then
            kill "$(cat "$WORK_DIR/redis.pid")" 2>/dev/null || true
        fi
        log "Redis stopped."
    fi
    if [ "$pg_started" -eq 1 ]; then
        (cd "$WORK_DIR" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1) || true
        log "PostgreSQL stopped."
    fi
    rm -rf "$WORK_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_in_use "$PG_PORT" && die "port $PG_PORT is already in use (set PG_PORT)."
port_in_use "$REDIS_PORT" && die "port $REDIS_PORT is already in use (set REDIS_PORT)."

# --- PostgreSQL -------------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK_DIR"
log "Starting PostgreSQL ($("$PG_BIN/postgres" --version)) on 127.0.0.1:$PG_PORT"
(cd "$WORK_DIR" && as_pg "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust -U postgres --no-locale \
    --encoding=UTF8 >"$WORK_DIR/initdb.log" 2>&1) || { cat "$WORK_DIR/initdb.log" >&2; die "initdb failed."; }
pg_started=1
(cd "$WORK_DIR" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK_DIR/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $WORK_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null) || { cat "$WORK_DIR/postgres.log" >&2; die "PostgreSQL did not start."; }

PSQL="$PG_BIN/psql"
[ -x "$PSQL" ] || PSQL=psql
for _ in $(seq 1 60); do
    "$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1 && break
    sleep 0.5
done
"$PSQL" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "create database $PG_DB" >/dev/null \
    || die "could not create database $PG_DB."

# --- Redis ------------------------------------------------------------------------------------------
log "Starting Redis ($(redis-server --version | awk '{print $3}')) on 127.0.0.1:$REDIS_PORT"
redis_started=1
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$WORK_DIR" --pidfile "$WORK_DIR/redis.pid" --logfile "$WORK_DIR/redis.log"
for _ in $(seq 1 60); do
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ] && break
    sleep 0.5
done
[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ] \
    || { cat "$WORK_DIR/redis.log" >&2; die "Redis did not start."; }

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
log "DATABASE_URL=$DATABASE_URL"
log "REDIS_URL=$REDIS_URL"
log "Running: $*"

set +e
"$@"
rc=$?
set -e
log "Command exited with status $rc."
exit "$rc"
