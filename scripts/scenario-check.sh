#!/usr/bin/env bash
# Runs each demo scenario preset on the real demo fleet (replica processes, HTTP requests, the
# shared autoscaler) faster than real time, then asks the diagnosis what it found over the run:
#
#   scripts/scenario-check.sh [seconds per preset] [speed] [preset ...]
#   # defaults: 240 s, speed 10, every preset
#   INFERSCOPE_BIN=target/debug/inferscope scripts/scenario-check.sh 180 10 thrash-prone
#
# Prints one line per preset: `preset=<name> speed=<n> seconds=<s> findings=<kinds or none>
# events=<replica events>`. The diagnosis's thresholds are in wall-clock time (a wait of a minute,
# three minutes at the maximum), so a finding that needs long waits may not show at high speeds;
# the simulator's labelled evaluation (docs/AUTOSCALING.md) is the measure of the rules.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
seconds=${1:-240}
speed=${2:-10}
shift $(( $# > 2 ? 2 : $# ))
presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then
  presets=(steady thrash-prone under-capacity cold-start-heavy bursty async-backlog high-concurrency-target)
fi
# INFERSCOPE_BIN names a binary already built (e.g. target/debug/inferscope); else the release
# build is made first.
bin=${INFERSCOPE_BIN:-}
if [ -z "$bin" ]; then
  scripts/setup.sh
  export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"
  cargo leptos build --release >/dev/null
  bin=target/release/inferscope
fi
port=${PORT:-3941}
for preset in "${presets[@]}"; do
  LEPTOS_SITE_ROOT=target/site LEPTOS_OUTPUT_NAME=inferscope LEPTOS_SITE_ADDR="127.0.0.1:$port" \
    RUST_LOG=error "$bin" --demo-scenario "$preset" --demo-speed "$speed" \
    >/dev/null 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 60); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 1
  done
  sleep "$seconds"
  range=15m
  [ "$seconds" -gt 800 ] && range=1h
  curl -fs "http://127.0.0.1:$port/api/v1/insights?environment=demo&deployment=$preset&range=$range" |
    python3 -c '
import json, sys
answer = json.load(sys.stdin)
kinds = sorted({f["kind"] for f in answer["findings"]})
print("preset=%s speed=%s seconds=%s findings=%s events=%d" % (
    sys.argv[1], sys.argv[2], sys.argv[3], ",".join(kinds) or "none", len(answer["events"])))
' "$preset" "$speed" "$seconds"
  kill "$server"
  wait "$server" 2>/dev/null || true
done
