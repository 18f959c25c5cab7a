#!/usr/bin/env bash
# Parse-speed benchmark: inferscope's parser against three Rust crates on the same pages, in one
# run. Prints, per page and parser, the median MiB/s and samples/s (from criterion's medians),
# the samples each parser returned, and the ratio to prom_text_format_parser.
#   scripts/bench-parse.sh            # full run
#   scripts/bench-parse.sh --quick    # shorter measurement
# Pin it to one core for per-core figures: taskset -c 1 scripts/bench-parse.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
args=(--warm-up-time 2 --measurement-time 8)
[ "${1:-}" = "--quick" ] && args=(--warm-up-time 1 --measurement-time 3)
rm -rf target/criterion
log=$(mktemp)
cargo bench -p server --bench parse -- "${args[@]}" | tee "$log" | grep -E "^bench-samples|thrpt" || true
python3 - "$log" <<'PY'
import json, os, re, sys
samples = {}
for line in open(sys.argv[1]):
    m = re.match(r"bench-samples page=(\S+) parser=(\S+) samples=(\d+) sample_lines=(\d+) bytes=(\d+)", line)
    if m:
        samples[(m[1], m[2])] = (int(m[3]), int(m[4]), int(m[5]))
print()
print(f"{'page':28} {'parser':25} {'MiB/s':>8} {'samples/s':>12} {'returned':>9} {'ratio':>6}")
pages = sorted({page for page, _ in samples})
for page in pages:
    rows = []
    for (p, parser), (returned, lines, size) in samples.items():
        if p != page:
            continue
        path = f"target/criterion/{page}/{parser}/new/estimates.json"
        if not os.path.exists(path):
            continue
        median_ns = json.load(open(path))["median"]["point_estimate"]
        mib_s = size / (median_ns / 1e9) / (1024 * 1024)
        rows.append((parser, mib_s, returned / (median_ns / 1e9), f"{returned}/{lines}"))
    base = next((r[1] for r in rows if r[0] == "prom_text_format_parser"), None)
    for parser, mib_s, samples_s, returned in rows:
        ratio = f"{mib_s / base:.2f}" if base else "-"
        print(f"{page:28} {parser:25} {mib_s:8.1f} {samples_s:12.0f} {returned:>9} {ratio:>6}")
PY
