// The page's own controls, in headless Chromium against the demo fleet (no access secret): a
// custom range and the steps back and forward, the toolbar at laptop and desktop width, the
// model beside the deployment, and the Share / Embed dialog on a server that signs no links.
import { test, expect } from '@playwright/test';
import { mkdirSync } from 'node:fs';

const BASE = process.env.INFERSCOPE_URL ?? 'http://127.0.0.1:3000';
const SHOTS = 'target/e2e';
mkdirSync(SHOTS, { recursive: true });
const CHAT = `${BASE}/?environment=production&deployment=chat-llm`;
const MINUTE = 60_000;

// Every chart's x-axis bounds as ECharts holds them.
function axisBounds() {
  const out = {};
  for (const element of document.querySelectorAll('[id^="chart-"]')) {
    const chart = window.echarts && window.echarts.getInstanceByDom(element);
    if (!chart) continue;
    const axis = chart.getOption().xAxis?.[0];
    out[element.id] = [axis?.min, axis?.max];
  }
  return out;
}

// "YYYY-MM-DDTHH:MM" in UTC, as the picker's inputs take it.
function utcMinute(ms) {
  return new Date(ms).toISOString().slice(0, 16);
}

async function waitForCharts(page) {
  await expect
    .poll(() => page.evaluate(() => document.querySelectorAll('[id^="chart-"] canvas').length), {
      timeout: 60_000,
    })
    .toBeGreaterThan(5);
}

test('a typed range lands in the URL and on every chart; steps move by its width', async ({ page }) => {
  await page.goto(`${CHAT}&range=1h`);
  await waitForCharts(page);
  await page.click('button[name="custom"]');
  const form = page.locator('form.custom-range');
  await expect(form).toBeVisible();
  // The picker opens on the window shown: the last hour, to the minute.
  const now = Date.now();
  const shownTo = Date.parse(`${await form.locator('input[name="to"]').inputValue()}:00Z`);
  const shownFrom = Date.parse(`${await form.locator('input[name="from"]').inputValue()}:00Z`);
  expect(Math.abs(shownTo - now)).toBeLessThan(2 * MINUTE);
  expect(shownTo - shownFrom).toBeGreaterThanOrEqual(59 * MINUTE);
  expect(shownTo - shownFrom).toBeLessThanOrEqual(61 * MINUTE);
  // A range that ends before it starts is refused with the reason, and the view stays.
  const start = Math.floor((now - 50 * MINUTE) / MINUTE) * MINUTE;
  const end = start + 20 * MINUTE;
  await form.locator('input[name="from"]').fill(utcMinute(end));
  await form.locator('input[name="to"]').fill(utcMinute(start));
  await form.locator('button[type="submit"]').click();
  await expect(form.locator('.custom-error')).toBeVisible();
  await expect(page).not.toHaveURL(/from=/);
  // Twenty minutes, typed.
  await form.locator('input[name="from"]').fill(utcMinute(start));
  await form.locator('input[name="to"]').fill(utcMinute(end));
  await form.locator('button[type="submit"]').click();
  await expect(page).toHaveURL(new RegExp(`from=${start}&to=${end}`));
  await expect(form).toHaveCount(0);
  const expectEveryAxis = async (from, to) => {
    await expect
      .poll(
        async () => {
          const bounds = Object.values(await page.evaluate(axisBounds));
          return bounds.length > 5 && bounds.every(([min, max]) => min === from && max === to);
        },
        { timeout: 20_000 },
      )
      .toBe(true);
  };
  await expectEveryAxis(start, end);
  await expect(page.locator('.range.absolute')).toBeVisible();
  // The same range survives a reload (it is the URL).
  await page.reload();
  await waitForCharts(page);
  await expectEveryAxis(start, end);
  // One step back: the twenty minutes before; one forward: back where it was.
  await page.click('button[name="earlier"]');
  await expect(page).toHaveURL(new RegExp(`from=${start - 20 * MINUTE}&to=${start}`));
  await expectEveryAxis(start - 20 * MINUTE, start);
  await page.click('button[name="later"]');
  await expect(page).toHaveURL(new RegExp(`from=${start}&to=${end}`));
  await expectEveryAxis(start, end);
  await page.screenshot({ path: `${SHOTS}/page-custom-range.png` });
});

test('a preset steps back an hour and forward to live again', async ({ page }) => {
  await page.goto(`${CHAT}&range=1h`);
  await waitForCharts(page);
  // Live: nothing later to step to.
  await expect(page.locator('button[name="later"]')).toBeDisabled();
  const before = Date.now();
  await page.click('button[name="earlier"]');
  await expect(page).toHaveURL(/from=\d+&to=\d+/);
  const url = new URL(page.url());
  const from = Number(url.searchParams.get('from'));
  const to = Number(url.searchParams.get('to'));
  expect(to - from).toBe(60 * MINUTE);
  expect(Math.abs(to - (before - 60 * MINUTE))).toBeLessThan(MINUTE);
  await expect(page.locator('button[name="later"]')).toBeEnabled();
  await page.click('button[name="later"]');
  await expect(page).toHaveURL(/range=1h/);
  await expect(page).not.toHaveURL(/from=/);
  await expect(page.locator('.range.active')).toHaveText('1h');
  await expect(page.locator('button[name="later"]')).toBeDisabled();
});

test('the toolbar keeps one line at laptop and desktop width, and names the model', async ({ page }) => {
  // A deployment serving one model names it beside its own name; one serving several (the
  // production chat deployment: a base model and an adapter) offers them in a menu of their own.
  await page.goto(`${BASE}/?environment=production&deployment=embedder&range=15m`);
  await expect(page.locator('select[name="deployment"] option:checked')).toHaveText('embedder · bge-large-en-v1.5');
  await expect(page.locator('select[name="model"]')).toHaveCount(0);
  await page.goto(`${CHAT}&range=15m`);
  await waitForCharts(page);
  await expect(page.locator('select[name="deployment"] option:checked')).toHaveText('chat-llm');
  await expect(page.locator('select[name="model"] option')).toHaveText([
    'All models',
    'llama-3.1-8b-instruct',
    'support-agent-lora',
  ]);
  // Live and with an absolute range (its times replace "Custom"), at each width.
  const live = page.url();
  const absolute = `${CHAT}&from=${Date.now() - 50 * MINUTE}&to=${Date.now() - 30 * MINUTE}`;
  for (const [width, url] of [1024, 1280, 1366, 1440, 1600, 1920].flatMap((w) => [[w, live], [w, absolute]])) {
    if (page.url() !== url) {
      await page.goto(url);
      await waitForCharts(page);
    }
    await page.setViewportSize({ width, height: 800 });
    await page.waitForTimeout(300);
    const layout = await page.evaluate(() => {
      const bar = document.querySelector('.topbar');
      const box = bar.getBoundingClientRect();
      const rows = new Set();
      const outside = [];
      for (const child of bar.children) {
        const rect = child.getBoundingClientRect();
        if (rect.width === 0 || getComputedStyle(child).display === 'none') continue;
        rows.add(Math.round(rect.top + rect.height / 2));
        if (rect.right > window.innerWidth + 0.5) outside.push(child.className);
      }
      return {
        height: box.height,
        spread: Math.max(...rows) - Math.min(...rows),
        outside,
        overflow: bar.scrollWidth - bar.clientWidth,
      };
    });
    expect(layout.height, `toolbar height at ${width} px, ${url}`).toBeLessThan(70);
    expect(layout.spread, `toolbar items on one row at ${width} px, ${url}`).toBeLessThan(12);
    expect(layout.outside, `nothing past the edge at ${width} px, ${url}`).toEqual([]);
    expect(layout.overflow).toBeLessThanOrEqual(0);
    // Targets stays one click or two away.
    const direct = page.locator('.topbar a.nav-link[href="/targets"]:visible');
    if ((await direct.count()) === 0) {
      await page.click('details.more > summary');
      await expect(page.locator('details.more a[href="/targets"]')).toBeVisible();
      await page.click('details.more > summary');
    }
    const kind = url === live ? 'live' : 'absolute';
    await page.screenshot({ path: `${SHOTS}/page-toolbar-${width}-${kind}.png`, clip: { x: 0, y: 0, width, height: 120 } });
  }
  await page.goto(live);
  await waitForCharts(page);
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SHOTS}/page-1024.png` });
  await page.click('.theme-toggle');
  await page.waitForTimeout(400);
  await page.screenshot({ path: `${SHOTS}/page-1024-dark.png` });
  await page.click('.theme-toggle');
});

test('without a secret the Share dialog hands out the plain view link and says why', async ({ page, browser }) => {
  await page.goto(`${CHAT}&range=15m`);
  await waitForCharts(page);
  await page.click('button.share-button');
  const dialog = page.locator('.share-dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('no access secret');
  await expect(dialog.locator('input[name="share-admin"]')).toHaveCount(0);
  await dialog.locator('.panel-quick button', { hasText: 'None' }).click();
  await dialog.locator('input[name="share-panel"][value="replicas"]').check();
  await dialog.locator('select[name="share-theme"]').selectOption('light');
  const url = await dialog.locator('#share-link').inputValue();
  const params = new URL(url).searchParams;
  expect(url.startsWith(`${BASE}/?`)).toBe(true);
  expect(params.get('deployment')).toBe('chat-llm');
  expect(params.get('panels')).toBe('replicas');
  expect(params.get('embed')).toBe('1');
  expect(params.get('theme')).toBe('light');
  expect(params.has('token')).toBe(false);
  await expect(dialog.locator('#share-iframe')).toHaveValue(/^<iframe src="http:\/\/.*embed=1.*" title="inferscope: production \/ chat-llm"/);
  await expect(dialog.locator('.expiry')).toContainText('Does not expire');
  await page.screenshot({ path: `${SHOTS}/share-dialog-plain.png` });
  // Closing by the backdrop.
  await page.mouse.click(5, 5);
  await expect(dialog).toHaveCount(0);
  const other = await browser.newContext();
  const fresh = await other.newPage();
  await fresh.goto(url);
  await expect(fresh.locator('section.card')).toHaveCount(1);
  await expect(fresh.locator('section.card[data-card="replicas"]')).toBeVisible();
  await other.close();
});
