#!/usr/bin/env bash
# Builds the Linux installers (.deb and .rpm) with the Tauri CLI from npm, which ships a
# prebuilt binary. The bundles land in $CARGO_TARGET_DIR/release/bundle/.
# TOSS_DEFAULT_SERVER=wss://... bakes in that signaling server as the default (read by
# crates/core at compile time; a change rebuilds it, an address that is not one fails it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/tauri ] || npm ci --no-audit --no-fund
dpkg -s rpm >/dev/null 2>&1 || { [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rpm >/dev/null || true; }
cd src-tauri
if [ -n "${TOSS_DEFAULT_SERVER:-}" ]; then
    export TOSS_DEFAULT_SERVER
    echo "Default signaling server: $TOSS_DEFAULT_SERVER"
else
    echo "No default signaling server baked in (TOSS_DEFAULT_SERVER): codes work on the local network until one is set."
fi
../node_modules/.bin/tauri build --bundles deb rpm
find "${CARGO_TARGET_DIR:-../target}/release/bundle" -maxdepth 2 -name '*.deb' -o -maxdepth 2 -name '*.rpm'
