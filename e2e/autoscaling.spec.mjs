// The autoscaling diagnosis in headless Chromium: a second inferscope runs the demo fleet's
// thrash-prone scenario ten times faster than real time (real replicas, real HTTP, the shared
// autoscaler with a 3 s scale-down delay). The page must name the thrash, show its evidence on
// the replicas chart, list the replica events, and replay the range with a longer delay.
import { test, expect } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { BINARY, HOST, startServer } from './server.mjs';
import { repeatedAxisLabels, visitCharts } from './axes.mjs';

const SHOTS = 'target/e2e';
mkdirSync(SHOTS, { recursive: true });
const PORT = Number(process.env.INFERSCOPE_SCENARIO_PORT ?? 3130);
const BASE = `http://${HOST}:${PORT}`;
const PAGE = `${BASE}/?environment=demo&deployment=thrash-prone&range=5m`;

let server;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  expect(BINARY, 'the inferscope binary is built').toBeTruthy();
  server = await startServer(PORT, ['--demo-scenario', 'thrash-prone', '--demo-speed', '10'], {
    RUST_LOG: 'warn,server::scrape=error',
  });
});

test.afterAll(async () => {
  if (server) server.kill('SIGTERM');
});

// The replicas chart's marks, as ECharts holds them.
function replicaMarks() {
  const chart = window.echarts.getInstanceByDom(document.getElementById('chart-replicas'));
  const series = chart ? chart.getOption().series ?? [] : [];
  const marks = series.find((s) => s.name === 'marks');
  return {
    areas: marks?.markArea?.data?.length ?? 0,
    lines: marks?.markLine?.data?.length ?? 0,
    label: marks?.markArea?.data?.[0]?.[0]?.name ?? '',
  };
}

test('a thrash scenario is diagnosed live, with its evidence on the replicas chart', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto(PAGE);
  // The finding arrives over the live connection once the replicas have flipped three times.
  const thrash = page.locator('li.finding[data-finding="thrash"]');
  await expect(thrash).toBeVisible({ timeout: 180_000 });
  await expect(thrash.locator('.fix')).toContainText(/scale-down delay 3 s → \d+ s or more/);
  await expect(thrash.locator('.cause')).toContainText(/removed and added back \d+ times/);
  await expect(page.locator('.card.autoscaling .now')).toContainText(/finding/);
  // Replica events are listed, scale-ups with their cold start.
  await expect(page.locator('.event-list .event.up').first()).toContainText(/→ \d+ replicas/);
  await expect(page.locator('.settings-note')).toContainText('scale-down delay 3 s');
  await expect(page.locator('.settings-note')).toContainText('from exporter');

  // "Show on chart" scrolls to the replicas card, whose chart shades the evidence.
  await thrash.locator('.show-evidence').click();
  await expect(page.locator('[data-card="replicas"]')).toBeInViewport();
  await expect.poll(() => page.evaluate(replicaMarks), { timeout: 30_000 }).toMatchObject({ label: 'thrash' });
  const marks = await page.evaluate(replicaMarks);
  expect(marks.areas).toBeGreaterThanOrEqual(3);
  expect(marks.lines).toBeGreaterThanOrEqual(3);
  expect(Number(await page.locator('[data-card="replicas"]').getAttribute('data-evidence'))).toBeGreaterThanOrEqual(3);
  // Each scale event is a marker on the replicas line, at the count it reached; concurrent
  // requests carries the autoscaler's target: concurrency target × utilisation × active replicas.
  const guides = await page.evaluate(() => {
    const series = (id) => window.echarts.getInstanceByDom(document.getElementById(id)).getOption().series;
    const replicas = series('chart-replicas');
    const active = replicas.find((s) => s.name === 'active');
    const starting = replicas.find((s) => s.name === 'starting');
    const markers = (name) => replicas.find((s) => s.name === name && s.type === 'scatter')?.data ?? [];
    const concurrent = series('chart-concurrent_requests');
    const target = concurrent.find((s) => s.name.startsWith('target ('));
    return {
      active: active?.data ?? [],
      starting: starting?.data ?? [],
      up: markers('scale up'),
      down: markers('scale down'),
      target: target ? { name: target.name, dashed: target.lineStyle?.type, data: target.data } : null,
    };
  });
  expect(guides.up.length).toBeGreaterThanOrEqual(2);
  expect(guides.down.length).toBeGreaterThanOrEqual(2);
  // A marker stands at the count the autoscaler asked for: the replicas active and starting
  // reach it within a few seconds of the event (scaled ten times faster than real time).
  const startingAt = new Map(guides.starting.map(([t, v]) => [t, v ?? 0]));
  const asked = guides.active
    .filter(([, v]) => v !== null)
    .map(([t, v]) => [t, v + (startingAt.get(t) ?? 0)]);
  for (const [at, to] of [...guides.up, ...guides.down]) {
    const near = asked.filter(([t]) => t >= at - 3_000 && t <= at + 10_000).map(([, v]) => v);
    expect(near, `replicas near the scale event to ${to} at ${at}`).toContain(to);
  }
  expect(guides.target, 'a target line on concurrent requests').not.toBeNull();
  expect(guides.target.dashed).toBe('dashed');
  // The scenario's settings (the settings note): the target per replica times the active count.
  const [, concurrency, utilisation] = guides.target.name.match(/target \(([\d.]+) × ([\d.]+)% per replica\)/);
  const per = (Number(concurrency) * Number(utilisation)) / 100;
  const activeAt = new Map(guides.active.map(([t, v]) => [t, v]));
  let compared = 0;
  for (const [t, v] of guides.target.data) {
    const replicas = activeAt.get(t);
    if (v === null || replicas === null || replicas === undefined) continue;
    expect(v).toBeCloseTo(replicas * per, 6);
    compared += 1;
  }
  expect(compared).toBeGreaterThan(10);
  // The pointer off the charts (no tooltip in the pictures).
  await page.mouse.move(0, 0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(500);
  const box = await page.locator('[data-card="replicas"]').boundingBox();
  await page.screenshot({ path: `${SHOTS}/autoscaling-evidence.png`, clip: box });
  await page.screenshot({ path: `${SHOTS}/autoscaling-thrash.png`, fullPage: true });
  await page.click('.theme-toggle');
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${SHOTS}/autoscaling-thrash-dark.png`, fullPage: true });
  await page.click('.theme-toggle');
  // At laptop width the card still reads.
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SHOTS}/autoscaling-laptop.png` });
  // The scenario's small values (a fraction of a core, milliseconds): no axis repeats a label,
  // at laptop width and at 1440 px.
  for (const width of [1024, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    await visitCharts(page);
    expect(await repeatedAxisLabels(page), `axis labels at ${width} px`).toEqual([]);
  }
});

test('the range replays with a longer scale-down delay: fewer scale events', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto(PAGE);
  await expect(page.locator('a.whatif-link')).toHaveAttribute('href', /\/whatif\?.*deployment=thrash-prone/);
  await page.click('a.whatif-link');
  await expect(page).toHaveURL(/\/whatif\?/);
  const result = page.locator('.whatif-result');
  await expect(result).toBeVisible({ timeout: 30_000 });
  // The form starts from the recorded settings.
  await expect(page.locator('input[name="scale_down_delay_s"]')).toHaveValue('3');
  await page.fill('input[name="scale_down_delay_s"]', '600');
  await page.click('button[type="submit"]');
  await expect(page).toHaveURL(/scale_down_delay_s=600/);
  await expect(result).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('.whatif-result .settings-note').nth(1)).toContainText('scale-down delay 10 min');
  const row = page.locator('.whatif-totals tr', { hasText: 'Scale events' });
  const cells = await row.locator('td').allInnerTexts();
  const [actual, , replayed] = cells.map((text) => Number(text.split(' ')[0].replace(/,/g, '')));
  expect(actual).toBeGreaterThanOrEqual(3);
  expect(replayed).toBeLessThan(actual);
  // Both charts draw the recorded and the replayed line.
  await expect
    .poll(() =>
      page.evaluate(() => {
        const chart = window.echarts.getInstanceByDom(document.getElementById('chart-whatif-replicas'));
        return chart ? chart.getOption().series.map((s) => s.name).sort() : [];
      }),
    )
    .toEqual(['replayed with these settings', 'what happened']);
  await page.screenshot({ path: `${SHOTS}/whatif.png`, fullPage: true });
});
