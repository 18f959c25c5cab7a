#!/usr/bin/env bash
# Store benchmark at fleet scale on synthetic series (see server/examples/store_bench.rs): fills
# a store with REPLICAS replicas × 100 series seven days deep, then prints resident memory, the
# ingest rate of the one-second phase, and the median time of 7-day views.
#
#   scripts/bench-store.sh [replicas]        # default 1000 (about 25 minutes on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cargo build --release -q -p server --example store_bench
exec target/release/examples/store_bench "${1:-1000}"
