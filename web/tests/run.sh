#!/bin/sh
# The phone app's browser tests: headless Debian chromium + playwright-core, against a real
# `parole serve` (PAROLE_BIN, default target/debug/parole). Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]; then
  echo "chromium missing: apt-get install -y chromium" >&2
  exit 1
fi
npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
cd "$here"
# One test file at a time: each starts its own server and browsers (2 cores).
exec node --test --test-concurrency=1 --test-reporter=tap "$here"
