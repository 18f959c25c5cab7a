#!/usr/bin/env bash
# Scrape-load benchmark, side by side with Prometheus in the same run: 1,000 targets serving a
# real vLLM /metrics page (nginx on loopback serving one file), scraped every second by both
# inferscope and Debian's Prometheus. Samples CPU (cores, from /proc/PID/stat) and resident
# memory (VmRSS) of each every 30 s and prints a table and the ratios.
#
#   scripts/bench-load.sh [minutes] [targets]        # defaults: 5 minutes, 1000 targets
#
# Needs ../shared/fixtures/exporters/vllm/datadog-vllm-metrics.prom (or PAGE=path), and installs
# nginx-light and prometheus from Debian when missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
minutes=${1:-5}
targets=${2:-1000}
page=${PAGE:-../shared/fixtures/exporters/vllm/datadog-vllm-metrics.prom}
[ -f "$page" ] || { echo "bench-load: page $page not found" >&2; exit 1; }

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
if [ "${#need[@]}" -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
  # Debian starts the packaged services; this benchmark runs its own copies.
  $sudo_cmd systemctl stop prometheus nginx 2>/dev/null || true
  pkill -x prometheus 2>/dev/null || true
fi

echo "bench-load: building inferscope (release)"
cargo build --release -q -p server --bin inferscope

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# nginx: one worker, any path answers with the page.
mkdir -p "$work/nginx" "$work/www"
cp "$page" "$work/www/metrics"
chmod -R a+rX "$work"
cat > "$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:18080;
    default_type text/plain;
    location / { root $work/www; try_files /metrics =404; }
  }
}
EOF
/usr/sbin/nginx -c "$work/nginx/nginx.conf" -p "$work/nginx"
sleep 1
nginx_pid=$(cat "$work/nginx/nginx.pid"); pids+=("$nginx_pid")

# inferscope: every target in the config file.
{
  echo "scrape_interval_ms = 1000"
  echo "scrape_timeout_ms = 900"
  echo "max_series = 1000000"
  echo "demo = \"off\""
  for i in $(seq 1 "$targets"); do
    printf '[[targets]]\nurl = "http://127.0.0.1:18080/t/%d/metrics"\nenvironment = "bench"\ndeployment = "d%d"\nreplica = "r%d"\n' "$i" $((i % 10)) "$i"
  done
} > "$work/inferscope.toml"
LEPTOS_SITE_ADDR=127.0.0.1:18090 LEPTOS_OUTPUT_NAME=inferscope LEPTOS_SITE_ROOT="$work/site" \
  RUST_LOG=warn target/release/inferscope --config "$work/inferscope.toml" > "$work/inferscope.log" 2>&1 &
inferscope_pid=$!; pids+=("$inferscope_pid")

# Prometheus: the same targets, one job, one path each.
{
  echo "global: {scrape_interval: 1s, scrape_timeout: 900ms}"
  echo "scrape_configs:"
  echo "  - job_name: bench"
  echo "    static_configs:"
  for i in $(seq 1 "$targets"); do
    printf '      - targets: ["127.0.0.1:18080"]\n        labels: {__metrics_path__: "/t/%d/metrics", replica: "r%d"}\n' "$i" "$i"
  done
} > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:19090 --log.level=warn > "$work/prometheus.log" 2>&1 &
prometheus_pid=$!; pids+=("$prometheus_pid")

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

echo "bench-load: $targets targets, ${minutes} min; sampling every 30 s"
printf '%8s %16s %16s %16s %16s\n' "elapsed" "inferscope cpu" "inferscope MB" "prometheus cpu" "prometheus MB"
prev_i=$(cpu_ticks "$inferscope_pid"); prev_p=$(cpu_ticks "$prometheus_pid"); prev_t=$(date +%s.%N)
end=$(( $(date +%s) + minutes * 60 ))
cpu_i_sum=0; cpu_p_sum=0; n=0
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 30
  now_i=$(cpu_ticks "$inferscope_pid"); now_p=$(cpu_ticks "$prometheus_pid"); now_t=$(date +%s.%N)
  span=$(echo "$now_t - $prev_t" | bc -l)
  ci=$(echo "($now_i - $prev_i) / $ticks / $span" | bc -l)
  cp=$(echo "($now_p - $prev_p) / $ticks / $span" | bc -l)
  ri=$(rss_mb "$inferscope_pid"); rp=$(rss_mb "$prometheus_pid")
  elapsed=$(( $(date +%s) - end + minutes * 60 ))
  printf '%7ss %16.3f %16s %16.3f %16s\n' "$elapsed" "$ci" "$ri" "$cp" "$rp"
  prev_i=$now_i; prev_p=$now_p; prev_t=$now_t
  if [ "$n" -ge 2 ]; then cpu_i_sum=$(echo "$cpu_i_sum + $ci" | bc -l); cpu_p_sum=$(echo "$cpu_p_sum + $cp" | bc -l); fi
  n=$((n + 1))
done
up_i=$(curl -s http://127.0.0.1:18090/api/v1/targets | python3 -c 'import json,sys; t=json.load(sys.stdin); print(sum(1 for x in t if x["up"]), len(t))')
up_p=$(curl -s 'http://127.0.0.1:19090/api/v1/query?query=sum(up)' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "?")')
series_p=$(curl -s http://127.0.0.1:19090/metrics | awk '/^prometheus_tsdb_head_series / {print $2}')
samples_i=$(curl -s http://127.0.0.1:18090/api/v1/targets | python3 -c 'import json,sys; print(sum(x["samples_scraped"] for x in json.load(sys.stdin)))')
echo
echo "targets up: inferscope $up_i (up/total), prometheus $up_p; samples per scrape round: inferscope $samples_i; prometheus head series $series_p"
if [ "$n" -gt 2 ]; then
  avg_i=$(echo "$cpu_i_sum / ($n - 2)" | bc -l); avg_p=$(echo "$cpu_p_sum / ($n - 2)" | bc -l)
  printf 'after the first minute: inferscope %.3f cores, prometheus %.3f cores, CPU ratio %.2f; resident %s MB vs %s MB, memory ratio %.2f\n' \
    "$avg_i" "$avg_p" "$(echo "$avg_i / $avg_p" | bc -l)" "$ri" "$rp" "$(echo "$ri / $rp" | bc -l)"
fi
