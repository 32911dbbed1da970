#!/usr/bin/env bash
# CI: Debian's Chromium for the web-form browser test (driven by playwright-core,
# a devDependency; no browser download from a third party).
set -euo pipefail
if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
chromium --headless=new --no-sandbox --disable-gpu --dump-dom about:blank >/dev/null 2>&1 || {
  echo "setup-browser: chromium does not start headless" >&2
  exit 1
}
