#!/usr/bin/env bash
# Installs Debian's chromium for the reviewer web page's browser test (driven by playwright-core).
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root (or sudo) and apt.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  echo "chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-chromium: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
command -v apt-get >/dev/null || { echo "install-chromium: apt-get is required (Debian/Ubuntu)" >&2; exit 1; }

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
/usr/bin/chromium --version
