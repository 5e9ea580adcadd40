#!/bin/sh
# Checks the deploy/ files as make test runs them, so that they cannot silently rot:
# Caddy parses deploy/Caddyfile (with a placeholder domain for {$TOSS_DOMAIN}), and
# systemd-analyze verifies each unit. systemd-analyze also checks that ExecStart's binary
# exists and is executable; on a build machine toss-signal is not installed in
# /usr/local/bin, so the toss-signal unit is verified as a copy in a temporary folder whose
# only change is that path, pointing at the binary this build made. Everything else in the
# unit (hardening, credentials, environment) is verified as shipped.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="$target/debug/toss-signal"
[ -x "$bin" ] || { echo "verify-deploy: build toss-signal first ($bin is missing)" >&2; exit 1; }

TOSS_DOMAIN=toss.example.org caddy validate --config "$root/deploy/Caddyfile" --adapter caddyfile >/dev/null 2>&1 || {
  TOSS_DOMAIN=toss.example.org caddy validate --config "$root/deploy/Caddyfile" --adapter caddyfile
  exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/local/bin/toss-signal#$bin#" "$root/deploy/toss-signal.service" >"$tmp/toss-signal.service"
cp "$root/deploy/coturn.service" "$tmp/coturn.service"
# systemd-analyze prints warnings but still exits 0 for some; any output is a failure here.
out="$(systemd-analyze verify "$tmp/toss-signal.service" "$tmp/coturn.service" 2>&1)" || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then echo "$out" >&2; exit 1; fi
echo "deploy/: Caddyfile and systemd units verified"
