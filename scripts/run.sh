#!/usr/bin/env bash
# Serve the app: Daphne (HTTP + WebSockets) and one Celery worker with embedded beat, in the foreground.
# One Ctrl-C (or SIGTERM) stops both; if either exits on its own, the other is stopped too.
# HOST/PORT choose the listening address (default 127.0.0.1:8000). Run `make run` for migrate + demo data.
set -uo pipefail
cd "$(dirname "$0")/.."

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
export DEBUG="${DEBUG:-true}"
VAR_DIR="${VAR_DIR:-var}"
mkdir -p "$VAR_DIR"

pids=()
stopping=0

stop_all() {
    local rc=${1:-$?}
    [ "$stopping" -eq 1 ] && return
    stopping=1
    trap - INT TERM HUP EXIT
    echo "[run] stopping..." >&2
    local pid
    # TERM the leaders: Celery then stops its pool and beat itself after finishing the task in hand.
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 150); do
        local alive=0
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    # After 15 s, or once the leaders are gone, nothing of either process group may survive.
    for pid in "${pids[@]}"; do
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null
    exit "$rc"
}
trap 'stop_all 130' INT
trap 'stop_all 143' TERM
trap 'stop_all 129' HUP
trap 'stop_all' EXIT

# setsid gives each child its own process group, so a stop reaches the workers they fork as well.
setsid .venv/bin/daphne -b "$HOST" -p "$PORT" config.asgi:application &
pids+=($!)
setsid .venv/bin/celery -A config worker -B --loglevel=info --concurrency=1 \
    --schedule "$VAR_DIR/celerybeat-schedule" &
pids+=($!)

echo "[run] http://$HOST:$PORT/  (Ctrl-C stops Daphne and Celery)" >&2

# Return as soon as either process exits (or a signal arrives), then stop the other.
wait -n
stop_all $?
