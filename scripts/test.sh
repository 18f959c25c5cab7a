#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what it needs (first time only), then
# formatting, lints, unit and integration tests, and the browser tests in headless Chromium
# against the release build.
#
# Suites that read the shared exporter fixtures look for them in ../shared beside the clone
# (INFERSCOPE_SHARED to point elsewhere); .ci/run requires them.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh --test
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"

step() { printf '\n== %s ==\n' "$*"; }
started=$(date +%s)

step "format"
cargo fmt --all -- --check

step "lints (server and app with ssr, frontend as WASM)"
cargo clippy -p server -p app -p truth-tgi-exporter --all-targets -- -D warnings
cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

step "unit and integration tests"
cargo test -p server -p app

step "OpenMetrics conformance tally"
cargo test -q -p server --test openmetrics_conformance -- --nocapture

step "engine expectations (real exporter pages, written from the engines' definitions)"
cargo test -q -p server --test adapters -- --nocapture

step "truth harness (real replicas and traffic, every point against an independent reference)"
cargo build -q -p server -p truth-tgi-exporter --bins
target/truth-venv/bin/python truth/run.py --seconds 150

step "browser tests (release build, headless Chromium)"
cargo leptos end-to-end --release

printf '\n== all tests passed in %s s ==\n' "$(( $(date +%s) - started ))"
