// End-to-end tests of the dashboard in headless Chromium against the real server running the
// built-in demo fleet. Screenshots land in target/e2e/ for people to look at.
import { test, expect } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';

const BASE = process.env.INFERSCOPE_URL ?? 'http://127.0.0.1:3000';
const PANELS = ['inference_volume', 'response_time', 'replicas', 'concurrent_requests'];
const SHOTS = 'target/e2e';
mkdirSync(SHOTS, { recursive: true });

// Finds, in the page, how many non-null points each panel's chart holds, and the newest time.
function chartStats(keys) {
  const stats = {};
  for (const key of keys) {
    const element = document.getElementById(`chart-${key}`);
    const chart = element && window.echarts && window.echarts.getInstanceByDom(element);
    if (!chart) {
      stats[key] = { points: 0, newest: 0, series: [] };
      continue;
    }
    // The series named `marks` only carries the autoscaling diagnosis's marks.
    const series = (chart.getOption().series ?? []).filter((s) => s.name !== 'marks');
    let points = 0;
    let newest = 0;
    for (const line of series) {
      for (const [time, value] of line.data ?? []) {
        if (value !== null && value !== undefined) {
          points += 1;
          newest = Math.max(newest, time);
        }
      }
    }
    stats[key] = { points, newest, series: series.map((s) => s.name) };
  }
  return stats;
}

// Waits until the demo fleet has produced data for a view (the server just started).
async function waitForData(request, query) {
  await expect
    .poll(
      async () => {
        const response = await request.get(`${BASE}/api/v1/view?${query}`);
        if (!response.ok()) return false;
        const view = await response.json();
        const volume = view.panels.find((p) => p.id === 'inference_volume');
        const latency = view.panels.find((p) => p.id === 'response_time');
        const hasValue = (panel) =>
          panel && panel.series.some((s) => s.points.some(([, value]) => value !== null));
        return hasValue(volume) && hasValue(latency);
      },
      { timeout: 90_000, intervals: [1000] },
    )
    .toBe(true);
}

test('the first paint is server-rendered with the layout, filters and current values', async ({ request }) => {
  await waitForData(request, 'environment=production&deployment=chat-llm&range=5m');
  const response = await request.get(`${BASE}/?environment=production&deployment=chat-llm&range=5m`);
  expect(response.ok()).toBe(true);
  const html = await response.text();
  for (const title of ['Inference volume', 'Response time', 'Replicas', 'Concurrent requests']) {
    expect(html).toContain(title);
  }
  expect(html).toContain('name="environment"');
  expect(html).toContain('name="deployment"');
  // The selected scope and the current values are in the HTML before any script runs.
  expect(html).toMatch(/<option value="chat-llm" selected/);
  expect(html).toMatch(/[\d.,]+ req\/s now/);
  expect(html).toMatch(/p99 [>\d.\s]+m?s now/);
  expect(html).toMatch(/\d+ active · \d+ starting/);
});

test('the dashboard hydrates, draws every panel, goes live and follows the filter', async ({ page, request }) => {
  await waitForData(request, 'environment=production&deployment=chat-llm&range=5m');
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  // Record when the first chart holds data, measured from navigation start.
  await page.addInitScript(() => {
    const check = () => {
      const element = document.getElementById('chart-inference_volume');
      const chart = element && window.echarts && window.echarts.getInstanceByDom(element);
      const series = chart ? chart.getOption().series ?? [] : [];
      if (series.some((s) => (s.data ?? []).some(([, v]) => v !== null))) {
        window.__firstChartMs = performance.now();
      } else {
        requestAnimationFrame(check);
      }
    };
    requestAnimationFrame(check);
  });

  await page.goto(`${BASE}/?environment=production&deployment=chat-llm&range=5m`);
  await expect(page.locator('.connection')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });

  await expect
    .poll(async () => {
      const stats = await page.evaluate(chartStats, PANELS);
      return PANELS.filter((key) => stats[key].points > 0);
    }, { timeout: 30_000 })
    .toEqual(PANELS);
  const firstChartMs = await page.evaluate(() => window.__firstChartMs);
  expect(firstChartMs).toBeGreaterThan(0);
  console.log(`e2e: page load to first chart with data: ${Math.round(firstChartMs)} ms`);

  const before = await page.evaluate(chartStats, PANELS);
  expect(before.inference_volume.series).toEqual(['2xx', '4xx', '5xx']);
  expect(before.response_time.series).toEqual(['p99', 'p95', 'p90', 'p50']);
  // New live data arrives: deltas keep coming and the newest point moves forward.
  const messagesBefore = Number(await page.locator('.grid').getAttribute('data-live-messages'));
  await expect
    .poll(async () => (await page.evaluate(chartStats, PANELS)).inference_volume.newest, { timeout: 20_000 })
    .toBeGreaterThan(before.inference_volume.newest);
  const messagesAfter = Number(await page.locator('.grid').getAttribute('data-live-messages'));
  expect(messagesAfter).toBeGreaterThan(messagesBefore);

  await page.screenshot({ path: `${SHOTS}/dashboard-light.png`, fullPage: true });
  await page.click('.theme-toggle');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${SHOTS}/dashboard-dark.png`, fullPage: true });
  await page.click('.theme-toggle');

  // Change the deployment: the URL and the data follow.
  const chatReplicas = await page.evaluate(() => {
    const chart = window.echarts.getInstanceByDom(document.getElementById('chart-replicas'));
    return JSON.stringify(chart.getOption().series.map((s) => s.data));
  });
  await page.selectOption('select[name="deployment"]', 'embedder');
  await expect(page).toHaveURL(/deployment=embedder/);
  await expect(page).toHaveURL(/environment=production/);
  await expect(page.locator('.grid')).toHaveAttribute('data-view-deployment', 'embedder', { timeout: 15_000 });
  await expect
    .poll(async () => {
      const stats = await page.evaluate(chartStats, PANELS);
      return PANELS.filter((key) => stats[key].points > 0).length;
    }, { timeout: 30_000 })
    .toBe(PANELS.length);
  const embedderReplicas = await page.evaluate(() => {
    const chart = window.echarts.getInstanceByDom(document.getElementById('chart-replicas'));
    return JSON.stringify(chart.getOption().series.map((s) => s.data));
  });
  expect(embedderReplicas).not.toEqual(chatReplicas);
  // The embedder answers in milliseconds, the chat model in seconds: the summary says so.
  await expect(page.locator('[data-panel="response_time"] .now')).toHaveText(/p99 [\d.]+ ms now/, { timeout: 30_000 });

  // Reloading the URL restores the view.
  await page.reload();
  await expect(page.locator('select[name="deployment"]')).toHaveValue('embedder');
  await expect(page.locator('.connection')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  await page.screenshot({ path: `${SHOTS}/dashboard-embedder.png`, fullPage: true });

  // A narrow laptop window still shows every panel, one column.
  await page.setViewportSize({ width: 820, height: 900 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${SHOTS}/dashboard-narrow.png`, fullPage: true });

  expect(problems).toEqual([]);
});

// Every card of the grid (its chart is named after its first panel) and the panels behind tabs.
const CARDS = [
  'inference_volume', 'response_time', 'replicas', 'concurrent_requests', 'request_size',
  'response_size', 'cpu', 'memory', 'gpu_usage', 'gpu_memory', 'async_queue_time', 'async_queue_size',
];
const TABS = {
  response_time: ['inference_time', 'time_to_first_byte'],
  request_size: ['prompt_tokens'],
  response_size: ['generation_tokens'],
};
const ALL_PANELS = [...CARDS, ...Object.values(TABS).flat()];

// The cards whose chart holds no point.
async function cardsWithoutPoints(page) {
  const stats = await page.evaluate(chartStats, CARDS);
  return CARDS.filter((key) => stats[key].points === 0);
}

// The time span a chart's x axis shows, in milliseconds.
function axisSpan(key) {
  const chart = window.echarts.getInstanceByDom(document.getElementById(`chart-${key}`));
  const axis = chart.getOption().xAxis[0];
  return { min: axis.min, max: axis.max };
}

test('every panel has data on the demo fleet, over 24 h and a dragged zoom', async ({ page, request }) => {
  const query = 'environment=production&deployment=chat-llm&range=5m';
  // Wait (through the API) until the fleet has produced every signal, async requests included.
  await expect
    .poll(
      async () => {
        const response = await request.get(`${BASE}/api/v1/view?${query}`);
        if (!response.ok()) return ['(view failed)'];
        const view = await response.json();
        return ALL_PANELS.filter((key) => {
          const panel = view.panels.find((p) => p.id === key);
          return !(panel && panel.series.some((s) => s.points.some(([, v]) => v !== null)));
        });
      },
      { timeout: 120_000, intervals: [2000] },
    )
    .toEqual([]);
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${BASE}/?${query}`);
  await expect(page.locator('.connection')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  await expect.poll(() => cardsWithoutPoints(page), { timeout: 30_000 }).toEqual([]);
  for (const card of CARDS) {
    await expect(page.locator(`[data-card="${card}"] .now`)).not.toHaveText(/no data/);
  }
  // The panels behind tabs draw in the same chart once chosen.
  for (const [card, tabs] of Object.entries(TABS)) {
    for (const tab of tabs) {
      await page.click(`[data-card="${card}"] [data-tab="${tab}"]`);
      await expect(page.locator(`[data-card="${card}"]`)).toHaveAttribute('data-panel', tab);
      await expect
        .poll(async () => (await page.evaluate(chartStats, [card]))[card].points, { timeout: 10_000 })
        .toBeGreaterThan(0);
      await expect(page.locator(`[data-card="${card}"] .now`)).not.toHaveText(/no data/);
    }
    await page.click(`[data-card="${card}"] [data-tab="${card}"]`);
  }
  // Hovering the volume chart names the exact status codes beside the classes.
  const volumeBox = await page.locator('#chart-inference_volume').boundingBox();
  await page.mouse.move(volumeBox.x + volumeBox.width * 0.93, volumeBox.y + volumeBox.height * 0.6);
  await expect(page.locator('#chart-inference_volume')).toContainText(/200: [\d.,]+ req\/s/, { timeout: 10_000 });
  await page.mouse.move(0, 0);
  await page.screenshot({ path: `${SHOTS}/dashboard-full.png`, fullPage: true });

  // 24 hours: the URL, the button and every chart's axis follow; the data is still there.
  const DAY = 24 * 3600 * 1000;
  await page.click('a.range[data-range="24h"]');
  await expect(page).toHaveURL(/range=24h/);
  await expect(page.locator('a.range[data-range="24h"]')).toHaveClass(/active/);
  await expect
    .poll(async () => {
      const span = await page.evaluate(axisSpan, 'inference_volume');
      return Math.round((span.max - span.min) / 60_000);
    }, { timeout: 15_000 })
    .toBe(DAY / 60_000);
  await expect.poll(() => cardsWithoutPoints(page), { timeout: 30_000 }).toEqual([]);
  await page.screenshot({ path: `${SHOTS}/dashboard-24h.png`, fullPage: true });
  await page.click('a.range[data-range="5m"]');
  await expect(page).toHaveURL(/range=5m/);
  await expect
    .poll(async () => {
      const span = await page.evaluate(axisSpan, 'inference_volume');
      return Math.round((span.max - span.min) / 60_000);
    }, { timeout: 15_000 })
    .toBe(5);

  // Drag across the volume chart from 70 % to 98 % of its width: an absolute range in the URL,
  // and every chart shows exactly that range.
  const box = await page.locator('#chart-inference_volume').boundingBox();
  const left = box.x + 52;
  const width = box.width - 52 - 14;
  const y = box.y + box.height / 2;
  const before = await page.evaluate(axisSpan, 'inference_volume');
  await page.mouse.move(left + width * 0.7, y);
  await page.mouse.down();
  await page.mouse.move(left + width * 0.85, y, { steps: 5 });
  await page.mouse.move(left + width * 0.98, y, { steps: 5 });
  await page.mouse.up();
  await expect(page).toHaveURL(/from=\d+/);
  await expect(page).toHaveURL(/to=\d+/);
  await expect(page.locator('.range.absolute')).toBeVisible();
  const url = new URL(page.url());
  const from = Number(url.searchParams.get('from'));
  const to = Number(url.searchParams.get('to'));
  const expectedFrom = before.min + (before.max - before.min) * 0.7;
  const expectedTo = before.min + (before.max - before.min) * 0.98;
  expect(Math.abs(from - expectedFrom)).toBeLessThan(15_000);
  expect(Math.abs(to - expectedTo)).toBeLessThan(15_000);
  for (const card of ['inference_volume', 'gpu_usage']) {
    await expect
      .poll(async () => page.evaluate(axisSpan, card), { timeout: 15_000 })
      .toEqual({ min: from, max: to });
  }
  await expect
    .poll(async () => (await page.evaluate(chartStats, ['inference_volume'])).inference_volume.points, { timeout: 15_000 })
    .toBeGreaterThan(0);
  await page.screenshot({ path: `${SHOTS}/dashboard-zoomed.png`, fullPage: true });
  // Picking a range goes live again.
  await page.click('a.range[data-range="15m"]');
  await expect(page).toHaveURL(/range=15m/);
  await expect(page).not.toHaveURL(/from=/);
  expect(problems).toEqual([]);
});

test('a dropped connection shows reconnecting, then resumes without a new snapshot', async ({ page, request }) => {
  await waitForData(request, 'range=15m');
  let connections = 0;
  const afterReconnect = [];
  await page.routeWebSocket(/\/api\/v1\/live/, (ws) => {
    connections += 1;
    const mine = connections;
    const server = ws.connectToServer();
    server.onMessage((message) => {
      if (mine > 1) afterReconnect.push(JSON.parse(message).type);
      ws.send(message);
    });
    if (mine === 1) {
      // Cut the first connection from the page's side once it is live.
      setTimeout(() => ws.close({ code: 4000, reason: 'test drops the connection' }), 5_000);
    }
  });
  await page.addInitScript(() => {
    window.__states = [];
    new MutationObserver(() => {
      const badge = document.querySelector('.connection');
      if (badge) window.__states.push(badge.getAttribute('data-state'));
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-state'] });
  });
  await page.goto(`${BASE}/?range=15m`);
  await expect(page.locator('.connection')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  await expect.poll(() => connections, { timeout: 30_000 }).toBe(2);
  await expect(page.locator('.connection')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  const states = await page.evaluate(() => window.__states);
  expect(states).toContain('reconnecting');
  expect(states.lastIndexOf('live')).toBeGreaterThan(states.indexOf('reconnecting'));
  // The resumed connection carries only the deltas that were missed, then new ones.
  await expect.poll(() => afterReconnect.length, { timeout: 15_000 }).toBeGreaterThan(0);
  expect(afterReconnect[0]).toBe('delta');
  expect(afterReconnect).not.toContain('snapshot');
});

test('the targets page shows every target with its scrape health', async ({ page, request }) => {
  await waitForData(request, 'range=5m');
  await page.goto(`${BASE}/?range=5m`);
  await page.click('a.nav-link[href="/targets"]');
  await expect(page).toHaveURL(/\/targets$/);
  // Three routers and at least one replica per deployment, all scraped successfully.
  const upRows = page.locator('.target-table tbody tr[data-state="up"]');
  await expect.poll(() => upRows.count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(6);
  await expect(page.locator('.targets .now')).toHaveText(/^\d+ targets · \d+ up · \d+ down$/);
  const routers = page.locator('.target-table tbody tr[data-replica=""]');
  await expect(routers).toHaveCount(3);
  // Every row names its last scrape time, duration and sample count.
  const first = upRows.first().locator('td');
  await expect(first.nth(5)).toHaveText(/^\d\d:\d\d:\d\d UTC$/);
  await expect(first.nth(6)).toHaveText(/\d+(\.\d+)? (ms|s)$/);
  await expect(first.nth(7)).toHaveText(/^[\d,]+$/);
  await page.screenshot({ path: `${SHOTS}/targets.png`, fullPage: true });
});

test('families no adapter knows are listed and charted by name', async ({ page, request }) => {
  await waitForData(request, 'environment=production&deployment=chat-llm&range=5m');
  await page.goto(`${BASE}/?environment=production&deployment=chat-llm&range=5m`);
  await page.click('a.nav-link[href="/families"]');
  await expect(page).toHaveURL(/\/families$/);
  const row = page.locator('tr[data-family="demo_scheduler_tokens_in_flight"]');
  await expect(row).toBeVisible({ timeout: 20_000 });
  // One series per demo replica that exports it, across every deployment.
  await expect(row.locator('td').nth(1)).toHaveText(/^\d+$/);
  await row.locator('a').click();
  await expect(page).toHaveURL(/name=demo_scheduler_tokens_in_flight/);
  await expect(page.locator('section.family h2')).toHaveText('demo_scheduler_tokens_in_flight');
  await expect
    .poll(async () => (await page.evaluate(chartStats, ['family'])).family.points, { timeout: 20_000 })
    .toBeGreaterThan(0);
  const names = (await page.evaluate(chartStats, ['family'])).family.series;
  // A line per target, named by its replica (the family has no labels of its own).
  // (with the environment, as replica names repeat across environments).
  expect(names.some((name) => /^production\/chat-llm-\d+$/.test(name))).toBe(true);
  await page.screenshot({ path: `${SHOTS}/families.png`, fullPage: true });
});

test('CPU and memory draw the container limit as a dashed line and say it', async ({ page, request }) => {
  const query = 'environment=production&deployment=chat-llm&range=5m';
  await waitForData(request, query);
  // The limit the API reports (the demo's containers are simulated: docs/HOST.md).
  const latest = (panel, id) => {
    const series = panel.series.find((s) => s.id === id);
    const points = (series?.points ?? []).filter(([, v]) => v !== null);
    return points.length ? points[points.length - 1][1] : null;
  };
  let limits = {};
  await expect
    .poll(
      async () => {
        const view = await (await request.get(`${BASE}/api/v1/view?${query}`)).json();
        const panel = (id) => view.panels.find((p) => p.id === id);
        limits = { cpu: latest(panel('cpu'), 'limit'), memory: latest(panel('memory'), 'limit') };
        return limits.cpu > 0 && limits.memory > 0;
      },
      { timeout: 60_000, intervals: [1000] },
    )
    .toBe(true);
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(`${BASE}/?${query}`);
  await expect(page.locator('.connection')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  for (const [key, unit] of [['cpu', 'cores'], ['memory', 'MiB']]) {
    const card = page.locator(`section.card[data-card="${key}"]`);
    await card.scrollIntoViewIfNeeded();
    const drawn = async () =>
      page.evaluate((id) => {
        const chart = window.echarts.getInstanceByDom(document.getElementById(`chart-${id}`));
        if (!chart) return null;
        const option = chart.getOption();
        const limit = (option.series ?? []).find((s) => s.name === 'limit');
        const values = (limit?.data ?? []).map(([, v]) => v).filter((v) => v !== null);
        const legend = (option.legend?.[0]?.data ?? []).map((e) => (typeof e === 'string' ? e : e.name));
        return {
          dashed: limit?.lineStyle?.type,
          last: values.length ? values[values.length - 1] : null,
          axisMax: option.yAxis?.[0]?.max,
          legend,
        };
      }, key);
    await expect.poll(async () => (await drawn())?.last ?? null, { timeout: 30_000 }).toBe(limits[key]);
    const chart = await drawn();
    expect(chart.dashed).toBe('dashed');
    expect(chart.legend).toContain('limit');
    // The axis reaches the limit, so the line is on the plot, not above it.
    if (typeof chart.axisMax === 'number') expect(chart.axisMax).toBeGreaterThanOrEqual(limits[key]);
    // The card's "now" line says it, in the panel's unit.
    await expect(card.locator('.now')).toContainText(new RegExp(`limit [0-9.]+ ${unit}`));
    await page.mouse.move(0, 0);
    await card.screenshot({ path: `${SHOTS}/limit-${key}.png` });
  }
});
