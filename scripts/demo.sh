#!/usr/bin/env bash
# The CLI demo: starts a local toss-signal, sends a file (or the paths given) with
# `toss send`, receives it with `toss receive` into a fresh folder, and shows the result.
# Everything stays on this machine (loopback).
set -euo pipefail
bin="${CARGO_TARGET_DIR:-$HOME/.cache/toss/target}/debug"
work=$(mktemp -d "${TMPDIR:-/tmp}/toss-demo.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

if [ $# -gt 0 ]; then
  paths=("$@")
else
  mkdir -p "$work/send/holiday photos"
  head -c 20000000 /dev/urandom > "$work/send/holiday photos/beach.raw"
  echo "Greetings from the other computer." > "$work/send/holiday photos/note.txt"
  paths=("$work/send/holiday photos")
fi

"$bin/toss-signal" --listen 127.0.0.1:0 > "$work/signal.out" 2> "$work/signal.log" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/signal.out" 2>/dev/null && break; sleep 0.1; done
export TOSS_SIGNAL; TOSS_SIGNAL=$(awk '{print $NF}' "$work/signal.out")
export TOSS_LOOPBACK=1
echo "== Signaling server on $TOSS_SIGNAL"

echo "== Sender: toss send ${paths[*]}"
"$bin/toss" send "${paths[@]}" > "$work/send.out" 2> >(sed 's/^/  [sender] /' >&2) &
pids+=($!)
for _ in $(seq 100); do grep -q '^Code:' "$work/send.out" 2>/dev/null && break; sleep 0.1; done
code=$(awk '/^Code:/ {print $2}' "$work/send.out")
[ -n "$code" ] || { echo "demo: the sender did not print a code" >&2; exit 1; }
sed 's/^/  [sender] /' "$work/send.out"

echo "== Receiver: toss receive --yes --out $work/received $code"
"$bin/toss" receive --yes --out "$work/received" "$code" 2>&1 | sed 's/^/  [receiver] /'
wait "${pids[1]}"
tail -n 1 "$work/send.out" | sed 's/^/  [sender] /'
echo "== Received files:"
find "$work/received" -type f -printf '  %10s bytes  %P\n'
