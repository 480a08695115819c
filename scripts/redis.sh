#!/usr/bin/env bash
# The project's own Redis for `make run`: its own port (never 6379), AOF on, data under var/redis.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${MSB_REDIS_PORT:-6391}"
DIR="$PWD/var/redis"
mkdir -p "$DIR"
case "${1:-start}" in
  start)
    if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
      echo "redis already answering on port $PORT"; exit 0
    fi
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes --appendfsync everysec \
      --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
    for _ in $(seq 1 50); do
      redis-cli -p "$PORT" ping >/dev/null 2>&1 && { echo "redis started on port $PORT (data in $DIR)"; exit 0; }
      sleep 0.1
    done
    echo "redis did not start; see $DIR/redis.log" >&2; exit 1 ;;
  stop)
    redis-cli -p "$PORT" shutdown >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
