#!/usr/bin/env bash
# The project's own PostgreSQL for `make run`: its own port (never 5432), data under var/postgres, every
# commit on disk (fsync on, synchronous_commit on). `start` also applies the schema migrations.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${MSB_POSTGRES_PORT:-6392}"
DIR="$PWD/var/postgres"
PGDATA="$DIR/pgdata"
bin() { command -v "$1" 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1; }
# initdb and postgres refuse to run as root: as root, the server runs as Debian's `postgres` user.
as_server_user() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
  start)
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$DIR"; chmod 700 "$DIR"; fi
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
      as_server_user "$(bin initdb)" -D "$PGDATA" -U msb --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! as_server_user "$(bin pg_ctl)" -D "$PGDATA" status >/dev/null 2>&1; then
      if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "port $PORT is taken by another server (not $PGDATA); set MSB_POSTGRES_PORT to a free port" >&2
        exit 1
      fi
      as_server_user "$(bin pg_ctl)" -D "$PGDATA" -l "$DIR/postgres.log" -w -t 30 start \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR -c max_connections=200" >/dev/null
      echo "postgres started on port $PORT (data in $PGDATA)"
    else
      echo "postgres already running (data in $PGDATA)"
    fi
    "$(bin psql)" -h 127.0.0.1 -p "$PORT" -U msb -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='msb'" \
      | grep -q 1 || "$(bin createdb)" -h 127.0.0.1 -p "$PORT" -U msb msb
    "${VENV:-.venv}/bin/python" -m tools.migrate "postgresql://msb@127.0.0.1:$PORT/msb"
    ;;
  stop)
    [ -f "$PGDATA/PG_VERSION" ] && as_server_user "$(bin pg_ctl)" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
