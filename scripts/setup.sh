#!/usr/bin/env bash
# Installs what building and testing inferscope needs, skipping whatever is already in place.
# Safe to run again and again; `scripts/run.sh` and `scripts/test.sh` call it first.
#
#   scripts/setup.sh          build tools only (what `scripts/run.sh` needs)
#   scripts/setup.sh --test   build tools plus Chromium and the truth harness's Python packages
#                             (what `scripts/test.sh` needs)
#
# Versions are pinned where the pieces must agree (see ARCHITECTURE.md, "Toolchain"):
# the wasm-bindgen CLI must equal the `wasm-bindgen` crate pinned in Cargo.toml exactly.
set -euo pipefail

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
want_browser=0
[ "${1:-}" = "--test" ] && want_browser=1

log() { printf '[setup] %s\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"

# 1. The WebAssembly target for the hydrated front end.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. cargo-leptos at the version known to build with this toolchain.
if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 14 minutes on 2 cores, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

# 3. wasm-bindgen CLI equal to the crate. Not --locked: its lockfile pins a yanked crate.
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# 4. npm packages: ECharts (served to the page), binaryen's wasm-opt (release builds; Debian's
#    binaryen is too old and silently breaks hydration) and Playwright (browser tests).
if [ ! -f node_modules/.install-stamp ] || [ package-lock.json -nt node_modules/.install-stamp ]; then
  log "installing npm packages"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
  touch node_modules/.install-stamp
fi
mkdir -p public/vendor
if ! cmp -s node_modules/echarts/dist/echarts.min.js public/vendor/echarts.min.js; then
  cp node_modules/echarts/dist/echarts.min.js public/vendor/echarts.min.js
fi

# 5. The truth harness's Python (the libraries the engines use), in a venv of its own.
if [ "$want_browser" = 1 ]; then
  venv=target/truth-venv
  if [ ! -x "$venv/bin/python" ] || [ truth/requirements.txt -nt "$venv/.install-stamp" ]; then
    log "installing the truth harness's Python packages (truth/requirements.txt)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r truth/requirements.txt
    touch "$venv/.install-stamp"
  fi
fi

# 6. Chromium and chromedriver from Debian, for the browser tests only.
if [ "$want_browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  log "installing Debian's chromium"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
fi
log "tools ready"
