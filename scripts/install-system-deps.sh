#!/usr/bin/env bash
# System packages the tests need: Debian's chromium for the browser tests. Installed
# only when missing, and only where we may (root); elsewhere the tests say what to install.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "note: missing system packages: ${need[*]} (apt-get install ${need[*]})" >&2
  exit 0
fi
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
