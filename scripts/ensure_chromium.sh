#!/usr/bin/env bash
# Install Debian's Chromium (driven headless by Playwright in tests/console; Playwright's own browser
# download is not used) and a CJK font, so the console renders Chinese instead of empty boxes in
# screenshots, when the machine has none. Like scripts/ensure_redis.sh: a no-op when both are there.
set -euo pipefail
MSB_CHROMIUM="${MSB_CHROMIUM:-/usr/bin/chromium}"
packages=()
if [ ! -x "$MSB_CHROMIUM" ] && ! command -v chromium >/dev/null 2>&1; then
  packages+=(chromium)
fi
if ! { command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh family | grep -q .; }; then
  packages+=(fonts-wqy-zenhei)
fi
if [ "${#packages[@]}" -eq 0 ]; then
  exit 0
fi
echo "installing ${packages[*]} from the OS packages (console browser tests)" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${packages[@]}"
