#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver (and a small CJK font, so the report's screenshot shows
# Chinese, Japanese and Korean text) for the report test (`make browser`). The browser comes from apt,
# never from a driver's own download (no playwright/selenium-manager browsers).
# Idempotent: a no-op when /usr/bin/chromium and /usr/bin/chromedriver exist. Needs root or sudo.
# Usage: scripts/install-browser.sh
set -euo pipefail

PACKAGES=(chromium chromium-driver fonts-wqy-microhei)

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  echo "browser up to date: $(/usr/bin/chromium --version 2>/dev/null)"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "apt-get not found: install chromium and chromium-driver by hand" >&2; exit 1; }

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to apt-get install ${PACKAGES[*]}" >&2; exit 1; }
  SUDO=(sudo -n)
fi

started=${SECONDS}
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "installed $(/usr/bin/chromium --version 2>/dev/null) and $(/usr/bin/chromedriver --version) in $((SECONDS - started)) s"
