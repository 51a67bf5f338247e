#!/usr/bin/env bash
# Headless Chromium for tests/http/test_docs_offline.py: Debian's `chromium` package.
# Idempotent: returns at once when chromium is on PATH. Installing needs root (CI is root).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is missing; install it as root: sudo bash $0" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
