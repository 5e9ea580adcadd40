#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test Toss, and skips what
# is already there. Safe to run again and again.
set -euo pipefail

say() { printf 'setup: %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: Rust is not installed. Install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi

# Debian packages: a C compiler for ring and blake3, pkg-config, the tools the scripts use,
# the WebKitGTK stack the desktop app builds against, and what its end-to-end tests run:
# WebKitWebDriver, Xvfb, ImageMagick's `import` for screenshots, and xdotool with a
# GTK drag source (python3-gi) for the real drag-and-drop test; iproute2 and nftables for
# the tests that build a network link between two namespaces (they run as root); coturn for
# the relay-only test (its own turnserver on 127.0.0.1, started by the test); tshark for the
# local-network test that captures what a third computer on the network could see; the
# GNOME font the screenshots are taken in; Caddy and systemd (systemd-analyze) to check
# the deploy/ files (scripts/verify-deploy.sh).
apt_packages=(build-essential pkg-config curl time libssl-dev
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
  webkit2gtk-driver xvfb imagemagick xdotool python3-gi gir1.2-gtk-3.0
  iproute2 nftables coturn tshark fonts-cantarell caddy systemd)
# The web peer's tests drive real browsers under WebDriver: Debian's Chromium with its
# chromedriver, and Firefox ESR (geckodriver, below). Ubuntu has them only as snaps, which
# the tests do not drive, so elsewhere they are left to the user.
os_id=$( (. /etc/os-release 2>/dev/null && echo "${ID:-}") || true)
if [ "$os_id" = debian ]; then
  apt_packages+=(chromium chromium-driver firefox-esr)
elif ! command -v chromium >/dev/null 2>&1 || ! command -v firefox-esr >/dev/null 2>&1; then
  say "the browser tests need Chromium, chromedriver and Firefox ESR as /usr/bin/chromium and /usr/bin/firefox-esr (Debian's packages); install them yourself on this system"
fi
# Node.js runs the UI's unit tests (node --test ui/tests/); Debian's own package when no
# node is on the PATH (any Node from 18 on runs them).
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
# Debian packages npm apart from nodejs; the web peer's packages are installed with it.
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup: please install these packages as root: ${missing[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The web peer's crypto libraries, at the versions web/package-lock.json pins, for its tests
# (node --test in web/): only when web/node_modules is missing or older than the lock. They
# need Node.js 20.19 or later (Debian 13's nodejs; on Debian 12, Node.js from nodejs.org).
web="$(cd "$(dirname "$0")/.." && pwd)/web"
if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  if node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    say "installing the web peer's packages (npm ci in web/)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  else
    echo "setup: the web peer's tests need Node.js 20.19 or later, and this is $(node --version); install a newer Node.js (nodejs.org), then run this again." >&2
  fi
fi

# Cargo tools.
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  say "installing tauri-driver"
  cargo install tauri-driver --locked --version '^2'
fi
if ! command -v geckodriver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/geckodriver" ]; then
  say "installing geckodriver"
  cargo install geckodriver --locked
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
if ! cargo deny --version >/dev/null 2>&1; then
  say "installing cargo-deny"
  cargo install cargo-deny --locked
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  say "installing rustfmt and clippy"
  rustup component add rustfmt clippy
fi

# Benchmarks only (scripts/setup.sh --bench): the peers Toss is measured against.
if [ "${1:-}" = "--bench" ]; then
  if ! command -v wormhole >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
    say "installing magic-wormhole and iproute2"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq magic-wormhole iproute2 >/dev/null
  fi
  if ! python3 -c "import wormhole_mailbox_server, wormhole_transit_relay" 2>/dev/null; then
    say "installing the magic-wormhole mailbox server and transit relay"
    python3 -m pip install -q magic-wormhole-mailbox-server magic-wormhole-transit-relay
  fi
  if ! command -v sendme >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/sendme" ]; then
    say "installing sendme"
    cargo install sendme --locked
  fi
fi
