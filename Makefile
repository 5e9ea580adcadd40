# Toss: one entry point for building, running and testing.
# Every target installs what it needs first (scripts/setup.sh, idempotent).

# One shared build folder for every checkout on this machine: webrtc-rs is heavy to build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/toss/target

.PHONY: setup run demo test check lint build screenshots package bench fuzz audit

setup:
	@scripts/setup.sh

build: setup
	cargo build --workspace --bins --locked

## The desktop app (runs its own signaling server when none is reachable).
run: build
	cargo run -p toss-desktop --locked

## The CLI demo: a local signaling server, a send and a receive, on this machine.
demo: build
	@scripts/demo.sh

lint: setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

## Before a pull request (CI runs it): formatting, clippy and the unit tests, in a minute or
## two. make test runs everything.
check: lint
	cargo nextest run --workspace --lib --bins --locked
	node --test ui/tests/

# Tests that need root (network namespaces, a tmpfs) are ignored as "needs root". As root,
# make test runs them too: the nextest profile `root` (.config/nextest.toml) adds them, and
# only them. Without root they show as skipped.
ROOT_TESTS = $(if $(filter 0,$(shell id -u)),--profile root --run-ignored all)

## Every test: unit, integration (real server, real peers, real files) and CLI processes.
## Also a short run of every fuzz target, and the supply-chain audit.
test: build lint
	cargo nextest run --workspace --locked --no-fail-fast $(ROOT_TESTS)
	@# The UI's pure modules, fed every core event (ui/tests/fixtures/events.json).
	node --test ui/tests/
	@# The web peer: its crypto byte for byte the core's (web/test/fixtures/vectors.json), its
	@# protocol code, and dist/ (what toss-signal serves) rebuilt from src/ without a difference.
	cd web && node --test test/ && node build.mjs --check
	@# The vendored dtls's own tests: its AEAD is ring's, checked against RustCrypto's.
	cargo test -p dtls --locked --lib -q
	@# The vendored SCTP's own tests, with its path MTU discovery (the search, the probes).
	cargo test -p webrtc-sctp --locked --lib -q
	@# The vendored webrtc-util's own tests, with its batched sends (sendmmsg, UDP GSO).
	cargo test -p webrtc-util --locked --lib -q
	@# The deploy files: caddy validate and systemd-analyze verify (scripts/verify-deploy.sh).
	scripts/verify-deploy.sh
	scripts/fuzz.sh 20
	scripts/audit.sh

## Fuzzing (cargo-fuzz): every target for FUZZ_SECONDS each (default 10 minutes).
FUZZ_SECONDS ?= 600
fuzz: setup
	scripts/fuzz.sh $(FUZZ_SECONDS)

## Licenses, sources and known vulnerabilities of every dependency (deny.toml).
audit: setup
	scripts/audit.sh

## Screenshots of every screen of the real app under Xvfb, into docs/screenshots/.
screenshots: build
	cargo nextest run -p toss-desktop --locked --run-ignored only screenshots
	@# Nearby devices need network namespaces of their own (root).
	TOSS_SCREENSHOTS=$(CURDIR)/docs/screenshots cargo nextest run -p toss-desktop --locked --test nearby --profile root --run-ignored all
	@for f in docs/screenshots/*.png; do case "$$f" in */web-*) ;; *) /usr/bin/convert "$$f" -crop 720x680+0+0 +repage "$$f";; esac; done
	@# The web page in Chromium, as on a phone and on a desktop (namespaces: root).
	TOSS_SCREENSHOTS=$(CURDIR)/docs/screenshots cargo nextest run -p toss-cli --locked --test browser --profile root --run-ignored all page_screenshots

## Linux installers (.deb and .rpm) of the desktop app.
package: setup
	scripts/package.sh

## Benchmarks (not tests), as root: raw webrtc-rs, Toss end to end, setup latency, memory,
## magic-wormhole and sendme on the same file, the signaling server under 10,000 clients
## (scripts/bench.py, in a network namespace of its own), then the desktop app's startup, then
## 256 MiB each way between the web page in Chromium and toss, against Chromium to Chromium.
bench: setup
	scripts/setup.sh --bench
	cargo build --release --locked -p toss-cli -p toss-signal -p toss-bench
	scripts/bench.py
	cargo nextest run -p toss-desktop --locked --run-ignored only --no-capture desktop_startup_and_idle_cpu
	cargo build --workspace --bins --locked
	TOSS_BENCH_OUT=$${CARGO_TARGET_DIR:-target}/browser-bench.json cargo nextest run -p toss-cli --locked --test browser --run-ignored only --no-capture -E 'test(=browser_benchmark)'
