#!/usr/bin/env bash
# Runs the dashboard: installs what the build needs (first time only), builds the release server
# and WASM, and serves at http://127.0.0.1:3000 (LEPTOS_SITE_ADDR to change). With no
# configuration it watches the built-in demo fleet. Arguments go to the server, e.g.
#   scripts/run.sh --config inferscope.toml
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"
exec cargo leptos serve --release -- "$@"
