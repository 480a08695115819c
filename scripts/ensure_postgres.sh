#!/usr/bin/env bash
# Install the PostgreSQL server from the OS packages when the machine has none (a newcomer's laptop, a fresh CI box).
# Only the binaries are used: the project starts its own server under var/ (or a private one per test session).
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
echo "PostgreSQL server binaries not found; installing them from the OS packages" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
# postgresql-common would create and start a default cluster on 5432; we never use it, so stop it from doing so.
$SUDO mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/msb-no-main.conf >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q postgresql postgresql-contrib
