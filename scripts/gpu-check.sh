#!/usr/bin/env bash
# Builds and runs the NVML source against this host's real NVIDIA driver and prints what it read
# (server/examples/gpu_check.rs). For a machine with an NVIDIA GPU; elsewhere it says that no
# driver was found and exits 1. An argument names the library (default libnvidia-ml.so.1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p server --example gpu_check
exec target/release/examples/gpu_check "$@"
