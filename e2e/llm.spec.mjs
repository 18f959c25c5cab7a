// The LLM engine cards in headless Chromium.
//
// On the demo fleet (the server cargo-leptos started): every LLM card draws data, the Model
// menu narrows the page to one model (in the URL, and in the lines a per-model split draws),
// light and dark. On a second inferscope that scrapes one old vLLM page served here (V0's
// averaged gauges, a family under another prefix, no counters): the empty cards name what they
// found and what they read, and the targets page lists the same families.
import { test, expect } from '@playwright/test';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, startServer } from './server.mjs';
import { repeatedAxisLabels, visitCharts } from './axes.mjs';

const BASE = process.env.INFERSCOPE_URL ?? 'http://127.0.0.1:3000';
const SHOTS = 'target/e2e';
mkdirSync(SHOTS, { recursive: true });
const LLM_CHARTS = [
  'token_throughput',
  'inter_token_latency',
  'kv_cache_usage',
  'prefix_cache_hit_rate',
  'preemptions',
  'finished_reasons',
];
const SCOPE = 'environment=production&deployment=chat-llm&range=5m';
const ADAPTER = 'support-agent-lora';
const BASE_MODEL = 'llama-3.1-8b-instruct';

// Each chart's lines as ECharts holds them: name and [time, value] points (no marks).
function chartLines(keys) {
  const out = {};
  for (const key of keys) {
    const element = document.getElementById(`chart-${key}`);
    const chart = element && window.echarts && window.echarts.getInstanceByDom(element);
    const series = chart ? (chart.getOption().series ?? []).filter((s) => s.name !== 'marks') : [];
    out[key] = series.map((s) => ({ name: s.name, data: s.data ?? [] }));
  }
  return out;
}

const drawn = ([, value]) => value !== null && value !== undefined;

// Non-null points and series names of each chart.
async function chartStats(page, keys) {
  const lines = await page.evaluate(chartLines, keys);
  const stats = {};
  for (const key of keys) {
    const points = lines[key].reduce((n, line) => n + line.data.filter(drawn).length, 0);
    stats[key] = { points, series: lines[key].map((line) => line.name) };
  }
  return stats;
}

// A chart's values summed over its lines, by time (Unix ms).
async function sumsByTime(page, key) {
  const sums = {};
  for (const line of (await page.evaluate(chartLines, [key]))[key]) {
    for (const [time, value] of line.data.filter(drawn)) sums[time] = (sums[time] ?? 0) + value;
  }
  return sums;
}

// Waits until the demo's LLM families have a few seconds of rates in the API.
async function waitForLlmData(request) {
  await expect
    .poll(
      async () => {
        const response = await request.get(`${BASE}/api/v1/view?${SCOPE}`);
        if (!response.ok()) return 'no view';
        const view = await response.json();
        const missing = LLM_CHARTS.filter((id) => {
          const panel = view.panels.find((p) => p.id === id);
          return !panel || !panel.series.some((s) => s.points.some(([, v]) => v !== null));
        });
        return missing.join(',') || 'ok';
      },
      { timeout: 120_000, intervals: [2000] },
    )
    .toBe('ok');
}

test('the demo fills every LLM card, and the Model menu narrows the page to one model', async ({ page, request }) => {
  await waitForLlmData(request);
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  await page.goto(`${BASE}/?${SCOPE}`);
  await expect(page.locator('.group-heading', { hasText: 'LLM engine' })).toBeVisible();
  await expect
    .poll(async () => {
      const stats = await chartStats(page, LLM_CHARTS);
      return LLM_CHARTS.filter((key) => stats[key].points === 0).join(',') || 'all drawn';
    }, { timeout: 60_000 })
    .toBe('all drawn');
  // The bar with the Model menu still fits one line at 1440 px (the menu cuts long names).
  expect(await page.locator('.topbar').evaluate((bar) => bar.getBoundingClientRect().height)).toBeLessThan(70);
  // Both models are offered; the adapter is one of them.
  const options = await page.locator('select[name="model"] option').allTextContents();
  expect(options).toEqual(expect.arrayContaining(['All models', BASE_MODEL, ADAPTER]));

  // Split token throughput by model: a line for each model the deployment serves. (A chart
  // off screen waits for live updates until it is scrolled into view, so each is looked at.)
  const card = (key) => page.locator(`section:has(#chart-${key})`);
  const seriesOf = async (key) => {
    await card(key).scrollIntoViewIfNeeded();
    return (await chartStats(page, [key]))[key].series.slice().sort().join('|');
  };
  await card('token_throughput').locator('button.by-model').click();
  await expect(page).toHaveURL(/by_model=token_throughput/);
  await expect.poll(() => seriesOf('token_throughput'), { timeout: 30_000 }).toBe([ADAPTER, BASE_MODEL].sort().join('|'));
  await card('token_throughput').screenshot({ path: `${SHOTS}/llm-by-model.png` });

  // Choose the adapter: the URL says so, the menu keeps it, the split has its line only, and
  // the panels narrow to its traffic: at the same past moment as before, its request and token
  // rates are below the deployment's, and its prefix cache hits another share of its lookups.
  const NARROWED = ['inference_volume', 'token_throughput', 'finished_reasons', 'prefix_cache_hit_rate'];
  const before = {};
  for (const key of NARROWED) {
    await card(key).scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    before[key] = await sumsByTime(page, key);
  }
  await page.locator('select[name="model"]').selectOption(ADAPTER);
  await expect(page).toHaveURL(new RegExp(`model=${ADAPTER}`));
  await expect(page.locator('select[name="model"]')).toHaveValue(ADAPTER);
  await expect.poll(() => seriesOf('token_throughput'), { timeout: 30_000 }).toBe(ADAPTER);
  for (const key of NARROWED) {
    const times = Object.keys(before[key]).map(Number).sort((a, b) => a - b);
    expect(times.length, `${key}: points before the change`).toBeGreaterThan(20);
    const at = times[times.length - 10];
    const all = before[key][at];
    await expect
      .poll(async () => {
        await card(key).scrollIntoViewIfNeeded();
        const one = (await sumsByTime(page, key))[at];
        if (one === undefined) return `no point at ${at}`;
        if (key === 'prefix_cache_hit_rate') return Math.abs(one - all) > 1e-6 ? 'narrowed' : `${one} = ${all}`;
        return one < all ? 'narrowed' : `${one} not below ${all}`;
      }, { timeout: 30_000, message: `${key} under model=${ADAPTER}` })
      .toBe('narrowed');
  }
  // A reload renders the same scope from the URL.
  await page.reload();
  await expect(page.locator('select[name="model"]')).toHaveValue(ADAPTER);
  await expect.poll(() => seriesOf('token_throughput'), { timeout: 30_000 }).toBe(ADAPTER);

  // The whole group, light and dark, back on every model.
  await page.goto(`${BASE}/?${SCOPE}`);
  await expect
    .poll(async () => {
      const stats = await chartStats(page, LLM_CHARTS);
      return LLM_CHARTS.every((key) => stats[key].points > 0);
    }, { timeout: 60_000 })
    .toBe(true);
  // No axis on the page repeats a label, at 1440 px and at laptop width.
  for (const width of [1024, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    await visitCharts(page);
    expect(await repeatedAxisLabels(page), `axis labels at ${width} px`).toEqual([]);
  }
  // Every card drawn with the newest data, then the page from the top (the bar is sticky).
  for (const key of LLM_CHARTS) {
    await card(key).scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
  }
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/llm-light.png`, fullPage: true });
  await page.click('.theme-toggle');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${SHOTS}/llm-dark.png`, fullPage: true });
  await page.click('.theme-toggle');
  expect(problems).toEqual([]);
});

// A vLLM V0 page with no counters for the LLM cards, only its own averages and a family under
// another prefix (docs/ENGINES.md names them).
const OLD_PAGE = `# HELP vllm:num_requests_running Number of requests currently running on GPU.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="legacy-13b"} 4.0
# HELP vllm:avg_generation_throughput_toks_per_s Average generation throughput in tokens/s.
# TYPE vllm:avg_generation_throughput_toks_per_s gauge
vllm:avg_generation_throughput_toks_per_s{model_name="legacy-13b"} 118.5
# HELP vllm:gpu_prefix_cache_hit_rate GPU prefix cache block hit rate.
# TYPE vllm:gpu_prefix_cache_hit_rate gauge
vllm:gpu_prefix_cache_hit_rate{model_name="legacy-13b"} 0.42
# HELP my_vllm:num_preemptions_total Cumulative number of preemption from the engine.
# TYPE my_vllm:num_preemptions_total counter
my_vllm:num_preemptions_total{model_name="legacy-13b"} 12.0
`;

test.describe('a page with old names', () => {
  const PORT = Number(process.env.INFERSCOPE_LOOKALIKE_PORT ?? 3150);
  const OTHER = `http://${HOST}:${PORT}`;
  let exporter;
  let server;

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    exporter = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(OLD_PAGE);
    });
    await new Promise((resolve) => exporter.listen(0, HOST, resolve));
    const dir = mkdtempSync(join(tmpdir(), 'inferscope-lookalike-'));
    const config = join(dir, 'inferscope.toml');
    writeFileSync(
      config,
      [
        'scrape_interval_ms = 1000',
        'scrape_timeout_ms = 800',
        'demo = "off"',
        '[host]',
        'processes = "off"',
        'nvml = "off"',
        '[[targets]]',
        `url = "http://${HOST}:${exporter.address().port}/metrics"`,
        'environment = "lab"',
        'deployment = "legacy"',
        'replica = "v0"',
        '',
      ].join('\n'),
    );
    server = await startServer(PORT, ['--config', config]);
  });

  test.afterAll(async () => {
    if (server) server.kill('SIGTERM');
    if (exporter) exporter.close();
  });

  test('empty LLM cards say which family they found and which they read', async ({ page, request }) => {
    await expect
      .poll(async () => {
        const response = await request.get(`${OTHER}/api/v1/targets`);
        const targets = response.ok() ? await response.json() : [];
        return (targets[0]?.lookalikes ?? []).length;
      }, { timeout: 30_000 })
      .toBe(3);
    await page.goto(`${OTHER}/?environment=lab&deployment=legacy&range=5m`);
    const card = (id) => page.locator(`section:has(#chart-${id})`);
    await expect(card('token_throughput').locator('.lookalike')).toContainText(
      'Found vllm:avg_generation_throughput_toks_per_s',
    );
    await expect(card('token_throughput').locator('.lookalike')).toContainText('vllm:generation_tokens_total');
    await expect(card('prefix_cache_hit_rate').locator('.lookalike')).toContainText(
      'Found vllm:gpu_prefix_cache_hit_rate',
    );
    await expect(card('prefix_cache_hit_rate').locator('.lookalike')).toContainText('vllm:prefix_cache_hits_total');
    await expect(card('preemptions').locator('.lookalike')).toContainText('Found my_vllm:num_preemptions_total');
    await expect(card('preemptions').locator('.lookalike')).toContainText('vllm:num_preemptions_total');
    // A card with nothing like it on the page names only the exporter that would feed it.
    await expect(card('kv_cache_usage').locator('.lookalike')).toHaveCount(0);
    await expect(card('kv_cache_usage')).toContainText('vllm:kv_cache_usage_perc');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${SHOTS}/llm-lookalikes.png`, fullPage: true });

    await page.goto(`${OTHER}/targets`);
    const rows = page.locator('.lookalikes .lookalike-row');
    await expect(rows).toHaveCount(3);
    await expect(page.locator('.lookalikes')).toContainText('vllm:gpu_prefix_cache_hit_rate');
    await expect(page.locator('.lookalikes')).toContainText('my_vllm:num_preemptions_total');
    await expect(page.locator('.lookalikes')).toContainText('lab/legacy/v0');
    await page.screenshot({ path: `${SHOTS}/targets-lookalikes.png`, fullPage: true });
  });
});
