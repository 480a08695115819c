#!/usr/bin/env bash
# `make run`: PostgreSQL (migrated), Redis, the search index, the sandbox stand-ins, the push worker, then
# the API under gunicorn (foreground). Ctrl-C stops the API, the worker and the sandbox; PostgreSQL and Redis
# keep running (stop them with `make stop`).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export MSB_REDIS_URL="${MSB_REDIS_URL:-redis://127.0.0.1:${MSB_REDIS_PORT:-6391}/0}"
export MSB_DATABASE_URL="${MSB_DATABASE_URL:-postgresql://msb@127.0.0.1:${MSB_POSTGRES_PORT:-6392}/msb}"
export MSB_DATA_DIR="${MSB_DATA_DIR:-$PWD/var}"
export MSB_SANDBOX="${MSB_SANDBOX:-1}"
SANDBOX_PORT="${MSB_SANDBOX_PORT:-8701}"
export MSB_SANDBOX_URL="${MSB_SANDBOX_URL:-http://127.0.0.1:$SANDBOX_PORT}"
mkdir -p var/log "$MSB_DATA_DIR/run"
# One Prometheus multi-process directory for the API workers and the push worker, emptied per start.
export PROMETHEUS_MULTIPROC_DIR="$MSB_DATA_DIR/run/prometheus"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
# /metrics answers only with this bearer token (generated once per machine, never committed).
if [ -z "${MSB_METRICS_TOKEN:-}" ]; then
  mkdir -p "$MSB_DATA_DIR/secrets"
  [ -s "$MSB_DATA_DIR/secrets/metrics.token" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$MSB_DATA_DIR/secrets/metrics.token")
  MSB_METRICS_TOKEN="$(cat "$MSB_DATA_DIR/secrets/metrics.token")"
  export MSB_METRICS_TOKEN
fi

scripts/postgres.sh start
scripts/redis.sh start
# Development key pairs for the Alipay RSA2 exchange with the sandbox (never committed).
"$VENV/bin/python" -m tools.dev_keys "$MSB_DATA_DIR/secrets"
"$VENV/bin/python" -m catalog ensure --out "$MSB_DATA_DIR/index" --scale "${MSB_CATALOG_SCALE:-1.0}"

children=()
cleanup() { for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ "$MSB_SANDBOX" = "1" ] && [ -f sandbox/wsgi.py ]; then
  # Its own server on its own port, as the real outside systems are: one worker holds its in-memory state.
  env MSB_SANDBOX_ALIPAY_APP_PUBLIC_KEY_FILE="$MSB_DATA_DIR/secrets/alipay_app_public.pem" \
      MSB_SANDBOX_ALIPAY_PRIVATE_KEY_FILE="$MSB_DATA_DIR/secrets/alipay_platform_private.pem" \
  "$VENV/bin/gunicorn" sandbox.wsgi:app --bind "127.0.0.1:$SANDBOX_PORT" --workers 1 --threads 8 \
    --control-socket "$MSB_DATA_DIR/run/gunicorn-sandbox-$SANDBOX_PORT.ctl" \
    --worker-class gthread >>var/log/sandbox.log 2>&1 &
  children+=($!)
  echo "sandbox stand-ins on $MSB_SANDBOX_URL (log: var/log/sandbox.log)"
fi

if [ -f push/worker.py ]; then
  "$VENV/bin/python" -m push.worker >>var/log/push-worker.log 2>&1 &
  children+=($!)
  echo "push worker started (log: var/log/push-worker.log)"
fi

echo "API on http://${MSB_BIND:-127.0.0.1:8700}  (docs: /docs, readiness: /readyz)"
"$VENV/bin/gunicorn" -c gunicorn.conf.py wsgi:app &
children+=($!)
wait "${children[-1]}"
