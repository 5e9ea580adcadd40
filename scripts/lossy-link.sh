#!/usr/bin/env bash
# Sends one random file between two network namespaces joined by a 1500-MTU veth pair, with
# PERCENT% of the packets arriving at each end dropped at random (nftables; this kernel has
# no netem), and checks it arrives byte-identical. Needs root. Addresses are link-local and
# never leave the namespaces.
#
#   scripts/lossy-link.sh PERCENT SIZE_MIB [toss flags...]
#   scripts/lossy-link.sh 5 1024          # the 1 GiB run in docs/reliability.md
set -euo pipefail
percent=${1:?loss percent}
mib=${2:?size in MiB}
shift 2
target=${CARGO_TARGET_DIR:-$HOME/.cache/toss/target}/debug
a=toss-lossy-a-$$
b=toss-lossy-b-$$
work=$(mktemp -d)
cleanup() {
    ip netns pids "$a" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add "tla$$" type veth peer name "tlb$$"
ip link set "tla$$" netns "$a"
ip link set "tlb$$" netns "$b"
ip -n "$a" addr add 169.254.88.1/24 dev "tla$$"
ip -n "$b" addr add 169.254.88.2/24 dev "tlb$$"
for ns in "$a" "$b"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$( [ "$ns" = "$a" ] && echo "tla$$" || echo "tlb$$")" mtu 1500 up
    ip netns exec "$ns" nft add table inet loss
    ip netns exec "$ns" nft add chain inet loss input '{ type filter hook input priority 0; }'
    ip netns exec "$ns" nft add rule inet loss input iifname != lo numgen random mod 100 \< "$percent" drop
done
head -c "${mib}M" /dev/urandom > "$work/file.bin"
ip netns exec "$a" "$target/toss-signal" --listen 169.254.88.1:18800 >/dev/null 2>&1 &
sleep 0.5
common=(--signal ws://169.254.88.1:18800 --no-ice-servers --no-discovery --json "$@")
ip netns exec "$a" "$target/toss" send "${common[@]}" "$work/file.bin" > "$work/send.out" 2>&1 &
for _ in $(seq 50); do [ -s "$work/send.out" ] && break; sleep 0.1; done
code=$(head -1 "$work/send.out" | sed -n 's/.*"code":"\([^"]*\)".*/\1/p')
start=$(date +%s.%N)
ip netns exec "$b" "$target/toss" receive "${common[@]}" --yes --out "$work/out" "$code" > "$work/recv.out" 2>&1 || true
end=$(date +%s.%N)
grep -E '"connected"|"done"|"error"|"reconnecting"' "$work/recv.out" || true
cmp "$work/file.bin" "$work/out/file.bin" && echo "byte-identical"
awk -v s="$start" -v e="$end" -v m="$mib" 'BEGIN { printf "%d MiB at %s%% loss: %.1f s, %.2f MiB/s\n", m, "'"$percent"'", e - s, m / (e - s) }'
