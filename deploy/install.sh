#!/bin/sh
# Installs a Toss server on a fresh Debian or Ubuntu VPS, as root:
#   deploy/install.sh toss.example.org [path/to/toss-signal]
# Caddy (automatic HTTPS) in front of toss-signal, and coturn for TURN relays, sharing a
# freshly generated secret. Without a binary given, toss-signal is built here with cargo.
# Safe to run again: it keeps an existing secret and only replaces what it installs.
set -eu

domain="${1:?usage: install.sh DOMAIN [toss-signal binary]}"
binary="${2:-}"
here="$(cd "$(dirname "$0")" && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run it as root (sudo)" >&2; exit 1; }

echo "== packages: caddy, coturn"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy coturn curl >/dev/null

echo "== toss-signal"
if [ -z "$binary" ]; then
  command -v cargo >/dev/null || { echo "install.sh: give the toss-signal binary, or install Rust (cargo) to build it" >&2; exit 1; }
  (cd "$here/.." && cargo build --release --locked -p toss-signal)
  binary="${CARGO_TARGET_DIR:-$here/../target}/release/toss-signal"
fi
install -m 0755 "$binary" /usr/local/bin/toss-signal.new
mv /usr/local/bin/toss-signal.new /usr/local/bin/toss-signal

echo "== the shared TURN secret"
install -d -m 0700 /etc/toss-signal
if [ ! -s /etc/toss-signal/turn-secret ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=+/' >/etc/toss-signal/turn-secret)
fi
secret="$(cat /etc/toss-signal/turn-secret)"
public_ip="$(curl -fsS4 --max-time 5 https://api.ipify.org 2>/dev/null || hostname -I | cut -d' ' -f1)"
(umask 077 && printf 'TOSS_SIGNAL_TURN_URLS=turn:%s:3478?transport=udp,turn:%s:3478?transport=tcp\n' \
  "$domain" "$domain" >/etc/toss-signal/env)

echo "== coturn"
{
  cat "$here/turnserver.conf"
  echo "static-auth-secret=$secret"
  echo "external-ip=$public_ip"
} >/etc/turnserver.conf.new
chown root:turnserver /etc/turnserver.conf.new
chmod 0640 /etc/turnserver.conf.new
mv /etc/turnserver.conf.new /etc/turnserver.conf
install -m 0644 "$here/coturn.service" /etc/systemd/system/coturn.service

echo "== Caddy"
install -m 0644 "$here/Caddyfile" /etc/caddy/Caddyfile
mkdir -p /etc/systemd/system/caddy.service.d
printf '[Service]\nEnvironment=TOSS_DOMAIN=%s\n' "$domain" >/etc/systemd/system/caddy.service.d/toss.conf

echo "== units"
install -m 0644 "$here/toss-signal.service" /etc/systemd/system/toss-signal.service
systemctl daemon-reload
systemctl enable --now toss-signal coturn caddy
systemctl restart toss-signal coturn caddy

sleep 1
curl -fsS http://127.0.0.1:8787/healthz >/dev/null && echo "toss-signal answers on 127.0.0.1:8787"
cat <<MSG

Done. Point the DNS name $domain at this machine ($public_ip), then open in the firewall:
  TCP 80 and 443        Caddy (certificates, wss://)
  UDP and TCP 3478      coturn (TURN)
  UDP 49152-65535       coturn's relayed traffic
For example with ufw:
  ufw allow 80,443/tcp && ufw allow 3478 && ufw allow 49152:65535/udp
Clients then need only: wss://$domain
MSG
