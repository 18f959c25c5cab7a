#!/usr/bin/env bash
# Browser CPU benchmark (see bench/browser-cpu.mjs): builds the release server and WASM, runs the
# dashboard on the demo fleet on a free port, and measures the renderer CPU of the live page at
# 1 update/s beside plain ECharts and an idle page, in fresh headless Chromiums.
#
#   scripts/bench-browser.sh [rounds] [seconds]        # defaults: 3 rounds of 30 s
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh --test
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"
cargo leptos build --release >/dev/null
port=${PORT:-3917}
LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_ADDR="127.0.0.1:$port" RUST_LOG=warn \
  target/release/inferscope >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 60); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 1
done
# Let the demo fleet produce a few minutes' worth of charts first.
sleep "${WARMUP:-60}"
node bench/browser-cpu.mjs "http://127.0.0.1:$port/?environment=production&deployment=chat-llm&range=5m" "${1:-3}" "${2:-30}"
