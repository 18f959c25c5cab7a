// A deployment of fifty replicas, in headless Chromium: real HTTP exporters (one /metrics page per
// replica, served here, memory and CPU that differ per replica and move every scrape) scraped by
// a second inferscope. The memory chart must name the six highest replicas (not page a legend
// of fifty), keep the rest drawn in grey, and let a person find one replica by name.
import { test, expect } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { BINARY, HOST, startServer } from './server.mjs';

const SHOTS = 'target/e2e';
mkdirSync(SHOTS, { recursive: true });
const PORT = Number(process.env.INFERSCOPE_MEMBERS_PORT ?? 3150);
const EXPORTER_PORT = PORT + 2;
const BASE = `http://${HOST}:${PORT}`;
const REPLICAS = 50;
const MIB = 1024 * 1024;
const name = (i) => `wide-${String(i).padStart(2, '0')}`;
// Replica i works with (17·i mod 50) + 1 GiB of memory: the name order says nothing about it.
const gib = (i) => ((17 * i) % REPLICAS) + 1;

let exporter;
let server;
const started = Date.now();

function page(i) {
  const seconds = (Date.now() - started) / 1000;
  // A few MiB of wobble each scrape; never enough to change the order.
  const memory = gib(i) * 1024 * MIB + Math.round(Math.sin(seconds + i) * 4 * MIB);
  const cpu = (seconds * (i + 1)) / 100;
  return [
    '# HELP inferscope_container_memory_working_set_bytes Working set of the replica.',
    '# TYPE inferscope_container_memory_working_set_bytes gauge',
    `inferscope_container_memory_working_set_bytes ${memory}`,
    '# HELP inferscope_container_cpu_usage_seconds_total CPU time of the replica.',
    '# TYPE inferscope_container_cpu_usage_seconds_total counter',
    `inferscope_container_cpu_usage_seconds_total ${cpu.toFixed(3)}`,
    '',
  ].join('\n');
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  expect(BINARY, 'the inferscope binary is built').toBeTruthy();
  exporter = http.createServer((request, response) => {
    const match = /^\/metrics\/(\d+)$/.exec(request.url);
    if (!match || Number(match[1]) >= REPLICAS) {
      response.writeHead(404);
      response.end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(page(Number(match[1])));
  });
  await new Promise((resolve) => exporter.listen(EXPORTER_PORT, HOST, resolve));
  const targets = Array.from(
    { length: REPLICAS },
    (_, i) => `[[targets]]
url = "http://${HOST}:${EXPORTER_PORT}/metrics/${i}"
environment = "wide"
deployment = "fleet"
replica = "${name(i)}"
engine = "inferscope"
`,
  ).join('\n');
  const config = `target/e2e/members.toml`;
  writeFileSync(config, `scrape_interval_ms = 1000\nscrape_timeout_ms = 800\n\n[host]\nprocesses = "off"\nnvml = "off"\n\n${targets}`);
  server = await startServer(PORT, ['--config', config]);
});

test.afterAll(async () => {
  if (server) server.kill('SIGTERM');
  if (exporter) exporter.close();
});

// The memory chart's legend, which replica lines are drawn in grey, and the replicas the card
// names beside its search.
function memoryChart() {
  const chart = window.echarts.getInstanceByDom(document.getElementById('chart-memory'));
  if (!chart) return null;
  const option = chart.getOption();
  const series = option.series ?? [];
  const replicas = series.filter((s) => /^wide-\d\d$/.test(s.name));
  const grey = replicas.filter((s) => s.lineStyle?.color === '#C9CED8' || s.lineStyle?.color === '#3A4150');
  return {
    legend: (option.legend?.[0]?.data ?? []).map((entry) => (typeof entry === 'string' ? entry : entry.name)),
    replicas: replicas.length,
    grey: grey.map((s) => s.name).sort(),
    coloured: replicas.filter((s) => !grey.includes(s)).map((s) => s.name).sort(),
    named: [...document.querySelectorAll('[data-card="memory"] .member-chip')].map((chip) => chip.textContent.trim()),
  };
}

test('fifty replicas: the highest six named, the rest grey, one found by name', async ({ page }) => {
  test.setTimeout(150_000);
  await page.goto(`${BASE}/?environment=wide&deployment=fleet&range=5m`);
  const card = page.locator('section.card[data-card="memory"]');
  await card.scrollIntoViewIfNeeded();
  // Every replica is scraped and drawn.
  await expect
    .poll(async () => (await page.evaluate(memoryChart))?.replicas ?? 0, { timeout: 90_000 })
    .toBe(REPLICAS);
  // The six with the most memory: 17·i mod 50 = 49, 48, … 44, so i = 3·v mod 50 (3 is 17's
  // inverse mod 50); the first is wide-47 (17 · 47 = 799 = 15 · 50 + 49).
  const highest = [49, 48, 47, 46, 45, 44].map((v) => name((3 * v) % REPLICAS));
  expect(highest[0]).toBe('wide-47');
  // The card names them, highest first; the chart draws them in colour, the other 44 grey, and
  // its legend (one row, no pages) keeps the average only.
  await expect.poll(async () => (await page.evaluate(memoryChart)).named).toEqual(highest);
  const chart = await page.evaluate(memoryChart);
  expect(chart.coloured).toEqual([...highest].sort());
  expect(chart.grey.length).toBe(REPLICAS - 6);
  expect(chart.legend).toEqual(['avg']);
  await expect(card.locator('.members-note')).toHaveText('6 of 50 replicas named (highest average); the rest grey');
  await page.mouse.move(0, 0);
  await card.screenshot({ path: `${SHOTS}/members-top.png` });

  // Find one replica: it alone is named, in colour.
  await card.locator('input[name="find-member"]').fill('wide-03');
  await expect.poll(async () => (await page.evaluate(memoryChart)).named).toEqual(['wide-03']);
  const found = await page.evaluate(memoryChart);
  expect(found.coloured).toEqual(['wide-03']);
  expect(found.grey.length).toBe(REPLICAS - 1);
  await expect(card.locator('.members-note')).toHaveText('1 of 50 match');
  // The tooltip at the newest point lists it with its memory, and the others as a count.
  // Once every replica has a few points: the tooltip (ECharts' own, from the chart's
  // formatter) at the newest time every replica has reported.
  await expect
    .poll(
      () =>
        page.evaluate(() => {
          const chart = window.echarts.getInstanceByDom(document.getElementById('chart-memory'));
          const lines = chart.getOption().series.filter((s) => /^wide-/.test(s.name));
          return Math.min(...lines.map((s) => s.data.filter(([, v]) => v !== null).length));
        }),
      { timeout: 60_000 },
    )
    .toBeGreaterThanOrEqual(8);
  await page.evaluate(() => {
    const chart = window.echarts.getInstanceByDom(document.getElementById('chart-memory'));
    const series = chart.getOption().series;
    const lines = series.filter((s) => /^wide-/.test(s.name));
    const index = series.indexOf(lines[0]);
    let dataIndex = lines[0].data.length - 1;
    while (dataIndex > 0 && lines.some((s) => s.data[dataIndex]?.[1] == null)) dataIndex -= 1;
    chart.dispatchAction({ type: 'showTip', seriesIndex: index, dataIndex });
  });
  const tooltip = card.locator('#chart-memory > div', { hasText: /\d+ others: / });
  await expect(tooltip).toContainText(/wide-03\s*2 GiB/);
  await expect(tooltip).toContainText(/avg\s*2\d(\.\d)? GiB/);
  // The others span the fleet: about 1 GiB (wide-00) to 50 GiB (wide-47).
  await expect(tooltip).toContainText(/4[89] others: (10\d\d MiB|1 GiB) – 50 GiB/);
  expect(gib(3)).toBe(2);
  await card.screenshot({ path: `${SHOTS}/members-found.png` });
  // A search that matches nothing says so; clearing it names the highest again.
  await card.locator('input[name="find-member"]').fill('gpu');
  await expect(card.locator('.members-note')).toHaveText('no replica matches');
  // Clearing it names the highest again; a name in the list isolates that replica.
  await card.locator('input[name="find-member"]').fill('');
  await expect.poll(async () => (await page.evaluate(memoryChart)).named).toEqual(highest);
  await card.locator('.member-chip', { hasText: highest[2] }).click();
  await expect(card.locator('input[name="find-member"]')).toHaveValue(highest[2]);
  await expect.poll(async () => (await page.evaluate(memoryChart)).coloured).toEqual([highest[2]]);
});
