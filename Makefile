# Toss: one entry point for building, running and testing.
# Every target installs what it needs first (scripts/setup.sh, idempotent).

# One shared build folder for every checkout on this machine: webrtc-rs is heavy to build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/toss/target

.PHONY: setup demo test lint build

setup:
	@scripts/setup.sh

build: setup
	cargo build --workspace --bins --locked

## The CLI demo: a local signaling server, a send and a receive, on this machine.
demo: build
	@scripts/demo.sh

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

## Every test: unit, integration (real server, real peers, real files) and CLI processes.
test: build lint
	cargo nextest run --workspace --locked --no-fail-fast
