// Browser CPU benchmark: what the full dashboard, left open and live, costs the renderer, next to
// two peers measured in the same run:
//   - "naive": plain ECharts (the same build the page uses), 12 charts × 4 series × 300 points,
//     every series replaced once a second with ECharts' defaults (animation on);
//   - "idle": a blank page.
// CPU is read from /proc (utime + stime of the browser's renderer processes, and of all its
// processes) over a fixed window after a warm-up. Each subject runs in a fresh headless Chromium,
// `rounds` times; medians are printed, with ratios.
//
//   node bench/browser-cpu.mjs <dashboard-url> [rounds=3] [seconds=30]
import { chromium } from 'playwright-core';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const url = process.argv[2];
const rounds = Number(process.argv[3] ?? 3);
const seconds = Number(process.argv[4] ?? 30);
const warmup = 10;
if (!url) {
  console.error('usage: node bench/browser-cpu.mjs <dashboard-url> [rounds] [seconds]');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const echarts = readFileSync(join(root, 'public/vendor/echarts.min.js'), 'utf8');
const TICKS = 100; // USER_HZ on Linux

const NAIVE = `<!doctype html><html><head><style>
body { margin: 0; display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; }
div { height: 230px; }
</style><script>${echarts}</script></head><body><script>
const charts = [];
for (let c = 0; c < 12; c++) {
  const el = document.createElement('div');
  document.body.appendChild(el);
  charts.push(echarts.init(el));
}
const series = (t) => [0, 1, 2, 3].map((s) => ({
  type: 'line', name: 's' + s, showSymbol: false,
  data: Array.from({ length: 300 }, (_, i) => [t - (299 - i) * 1000, Math.sin((t / 1000 - 299 + i + s * 40) / 17) + s]),
}));
const draw = () => {
  const t = Date.now();
  for (const chart of charts) {
    chart.setOption({ tooltip: { trigger: 'axis' }, legend: {}, xAxis: { type: 'time' }, yAxis: { type: 'value' }, series: series(t) });
  }
};
draw();
setInterval(draw, 1000);
</script></body></html>`;

// Renderer and total CPU seconds of the processes launched with this profile directory.
function cpuSeconds(profile) {
  let renderer = 0;
  let total = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let cmdline;
    let stat;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes(profile)) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const used = (Number(fields[11]) + Number(fields[12])) / TICKS;
    total += used;
    if (cmdline.includes('--type=renderer')) renderer += used;
  }
  return { renderer, total };
}

async function measure(subject) {
  const profile = `/tmp/inferscope-bench-${process.pid}-${subject}-${Date.now()}`;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  if (subject === 'dashboard') {
    await page.goto(url);
    await page.locator('.connection[data-state="live"]').waitFor({ timeout: 60_000 });
  } else if (subject === 'naive') {
    await page.setContent(NAIVE);
  } else {
    await page.goto('about:blank');
  }
  await page.waitForTimeout(warmup * 1000);
  const messagesBefore = subject === 'dashboard'
    ? Number(await page.locator('.grid').getAttribute('data-live-messages')) : 0;
  const before = cpuSeconds(profile);
  const started = Date.now();
  await page.waitForTimeout(seconds * 1000);
  const after = cpuSeconds(profile);
  const wall = (Date.now() - started) / 1000;
  const messages = subject === 'dashboard'
    ? Number(await page.locator('.grid').getAttribute('data-live-messages')) - messagesBefore : 0;
  await context.close();
  return {
    renderer: (after.renderer - before.renderer) / wall,
    total: (after.total - before.total) / wall,
    updatesPerSecond: messages / wall,
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = { dashboard: [], naive: [], idle: [] };
for (let round = 0; round < rounds; round++) {
  // Interleaved, so drift on a noisy machine hits every subject alike.
  for (const subject of Object.keys(results)) {
    const result = await measure(subject);
    results[subject].push(result);
    console.log(`browser-cpu round=${round} subject=${subject} renderer_cores=${result.renderer.toFixed(4)} browser_cores=${result.total.toFixed(4)}` +
      (subject === 'dashboard' ? ` live_updates_per_s=${result.updatesPerSecond.toFixed(2)}` : ''));
  }
}
const summary = {};
for (const [subject, list] of Object.entries(results)) {
  summary[subject] = { renderer: median(list.map((r) => r.renderer)), total: median(list.map((r) => r.total)) };
  console.log(`browser-cpu median subject=${subject} renderer_percent_of_core=${(100 * summary[subject].renderer).toFixed(1)} browser_percent_of_core=${(100 * summary[subject].total).toFixed(1)}`);
}
console.log(`browser-cpu ratio dashboard/naive renderer=${(summary.dashboard.renderer / summary.naive.renderer).toFixed(3)} rounds=${rounds} window_s=${seconds}`);
