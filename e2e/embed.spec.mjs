// Embedding, in headless Chromium: a second inferscope that requires tokens and allows one
// parent origin (e2e/access.toml), and parent pages served from two other loopback origins — one
// allowed, one not. Links are minted the way an operator would: an admin token from the CLI,
// scoped links from the API.
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { BINARY, HOST, serverEnv, startServer } from './server.mjs';

const SHOTS = 'target/e2e';
mkdirSync(SHOTS, { recursive: true });
const PORT = Number(process.env.INFERSCOPE_EMBED_PORT ?? 3110);
const DASHBOARD = `http://${HOST}:${PORT}`;
const ALLOWED_PORT = 3120; // listed in e2e/access.toml
const FOREIGN_PORT = 3121; // not listed
const SECRET = 'e2e secret for the embedding tests, 32+ bytes';

let server;
const parents = [];
let admin;

// A console page that frames `src` and keeps the messages it receives from the dashboard.
function parentPage(src) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Console</title>
<style>body{margin:0;font:14px system-ui;background:#eef1f5}header{padding:10px 16px;background:#1d2733;color:#fff}
iframe{display:block;width:100%;border:0;height:640px}</style></head><body>
<header>Platform console — model chat-llm</header>
<iframe id="embed" src="${src.replaceAll('"', '&quot;')}"></iframe>
<script>
window.received = [];
window.addEventListener('message', (event) => {
  if (event.origin !== ${JSON.stringify(DASHBOARD)}) return;
  if (!event.data || event.data.source !== 'inferscope') return;
  window.received.push(event.data);
  if (event.data.type === 'height') document.getElementById('embed').style.height = event.data.height + 'px';
});
</script></body></html>`;
}

// A console page with an iframe snippet pasted in as it is (what the Share dialog hands out).
function pastedPage(snippet) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Console</title></head>
<body style="margin:0;font:14px system-ui"><header style="padding:10px 16px">Platform console</header>
${snippet}</body></html>`;
}

function serveParent(port) {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, `http://${HOST}:${port}`);
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    const snippet = url.searchParams.get('snippet');
    response.end(snippet ? pastedPage(snippet) : parentPage(url.searchParams.get('src') ?? 'about:blank'));
  });
  return new Promise((resolve) => server.listen(port, HOST, () => resolve(server)));
}

async function mint(body) {
  const response = await fetch(`${DASHBOARD}/api/v1/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return response.json();
}

const CHAT = {
  environment: 'production',
  deployment: 'chat-llm',
  panels: ['inference_volume', 'response_time'],
};

test.beforeAll(async () => {
  test.setTimeout(180_000);
  expect(BINARY, 'the inferscope binary is built').toBeTruthy();
  const env = serverEnv(PORT, { INFERSCOPE_ACCESS_SECRET: SECRET });
  server = await startServer(PORT, ['--config', 'e2e/access.toml'], { INFERSCOPE_ACCESS_SECRET: SECRET });
  admin = execFileSync(BINARY, ['--config', 'e2e/access.toml', 'link', '--admin', '--ttl', '1h'], {
    env,
  })
    .toString()
    .trim();
  parents.push(await serveParent(ALLOWED_PORT), await serveParent(FOREIGN_PORT));
  // Wait until the demo fleet behind the guarded server has data for chat-llm.
  const view = `${DASHBOARD}/api/v1/view?environment=production&deployment=chat-llm&panels=inference_volume,response_time&range=5m`;
  await expect
    .poll(
      async () => {
        const response = await fetch(view, { headers: { authorization: `Bearer ${admin}` } });
        if (!response.ok) return false;
        const body = await response.json();
        return body.panels.some((panel) => panel.series.some((s) => s.points.some(([, v]) => v !== null)));
      },
      { timeout: 90_000, intervals: [1000] },
    )
    .toBe(true);
});

test.afterAll(async () => {
  for (const parent of parents) parent.close();
  if (server) server.kill('SIGTERM');
});

function framed(port, path) {
  return `http://${HOST}:${port}/?src=${encodeURIComponent(DASHBOARD + path)}`;
}

test('an allowed console frames the scoped panels and hears from them', async ({ page }) => {
  const link = await mint({ ...CHAT, ttl_s: 600 });
  expect(link.path).toContain('embed=1');
  await page.goto(framed(ALLOWED_PORT, `${link.path}&theme=dark`));
  const frame = page.frameLocator('#embed');
  // Only the chosen panels, no toolbar, the dark theme the console asked for.
  await expect(frame.locator('section.card')).toHaveCount(2);
  await expect(frame.locator('section.card[data-card="inference_volume"]')).toBeVisible();
  await expect(frame.locator('section.card[data-card="response_time"] [data-tab]')).toHaveCount(0);
  await expect(frame.locator('.topbar')).toHaveCount(0);
  await expect(frame.locator('html')).toHaveAttribute('data-theme', 'dark');
  // Live data flows into the frame over the token-carrying WebSocket.
  await expect
    .poll(async () => Number(await frame.locator('.grid').getAttribute('data-live-messages')), {
      timeout: 30_000,
    })
    .toBeGreaterThan(1);
  await expect(frame.locator('section.card[data-card="inference_volume"] .now')).toContainText('req/s');
  // The console received ready (with the filter) and the content height, from this origin only.
  await expect
    .poll(async () => page.evaluate(() => window.received.map((m) => m.type)), { timeout: 30_000 })
    .toEqual(expect.arrayContaining(['ready', 'height']));
  const ready = await page.evaluate(() => window.received.find((m) => m.type === 'ready'));
  expect(ready.filter.deployment).toBe('chat-llm');
  expect(ready.filter.panels).toEqual(['inference_volume', 'response_time']);
  const height = await page.evaluate(() => window.received.filter((m) => m.type === 'height').at(-1).height);
  expect(height).toBeGreaterThan(200);
  expect(height).toBeLessThan(640); // the content's height, not the frame's: the console can fit it
  await page.screenshot({ path: `${SHOTS}/embed-allowed.png`, fullPage: true });
  // A drag across a chart zooms inside the frame and tells the console; the frame stays embedded
  // and keeps its token (live updates go on).
  const box = await frame.locator('#chart-inference_volume').boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.5, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, y, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.9, y, { steps: 5 });
  await page.mouse.up();
  await expect
    .poll(async () => page.evaluate(() => window.received.filter((m) => m.type === 'filter').length), {
      timeout: 15_000,
    })
    .toBeGreaterThan(0);
  const zoomed = await page.evaluate(() => window.received.filter((m) => m.type === 'filter').at(-1));
  expect(zoomed.filter.from_ms).toBeGreaterThan(0);
  expect(zoomed.query).toContain('from=');
  const frameUrl = page.frames().find((f) => f.url().startsWith(DASHBOARD)).url();
  expect(frameUrl).toContain('embed=1');
  expect(frameUrl).toContain(`token=${link.token}`);
  await expect(frame.locator('.topbar')).toHaveCount(0);
});

test('a console not on the allowlist is refused by the browser', async ({ page }) => {
  const link = await mint({ ...CHAT, ttl_s: 600 });
  const refusals = [];
  page.on('console', (message) => {
    if (/frame-ancestors/.test(message.text())) refusals.push(message.text());
  });
  await page.goto(framed(FOREIGN_PORT, link.path));
  await expect.poll(() => refusals.length, { timeout: 15_000 }).toBeGreaterThan(0);
  expect(refusals[0]).toContain(`http://${HOST}:${ALLOWED_PORT}`);
  await page.waitForTimeout(2_000);
  await expect(page.frameLocator('#embed').locator('section.card')).toHaveCount(0);
  expect(await page.evaluate(() => window.received.length)).toBe(0);
  await page.screenshot({ path: `${SHOTS}/embed-foreign.png` });
});

test('an expired link and a link for another deployment show the reason and no data', async ({ page }) => {
  const short = await mint({ ...CHAT, ttl_s: 1 });
  await new Promise((resolve) => setTimeout(resolve, 2_100));
  await page.goto(framed(ALLOWED_PORT, short.path));
  const frame = page.frameLocator('#embed');
  await expect(frame.locator('.refused .reason')).toContainText('the token expired at');
  await expect(frame.locator('section.card')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}/embed-expired.png` });

  const other = await mint({ ...CHAT, deployment: 'embedder', ttl_s: 600 });
  const retargeted = other.path.replace('deployment=embedder', 'deployment=chat-llm');
  await page.goto(framed(ALLOWED_PORT, retargeted));
  await expect(frame.locator('.refused .reason')).toContainText(
    'this token is for deployment "embedder"; the request asks for "chat-llm"',
  );
  await expect(frame.locator('section.card')).toHaveCount(0);
  // The refusal page never carries the token back.
  const html = await (await fetch(DASHBOARD + retargeted)).text();
  expect(html).not.toContain(other.token);
});

// The Share / Embed dialog, as an operator uses it: the page opened from a full-page link for
// the whole fleet, two panels chosen, the dark theme, an admin token pasted. The link it hands
// out must work for someone else (a fresh browser context, no cookie) and as the pasted iframe in
// a console.
test('the Share dialog mints a link that works in a fresh browser and as a pasted iframe', async ({ page, browser }) => {
  const viewer = await mint({ ttl_s: 3600, page: true });
  expect(viewer.path).not.toContain('embed=1');
  await page.goto(`${DASHBOARD}/?environment=production&deployment=chat-llm&range=15m&token=${viewer.token}`);
  await expect(page.locator('section.card[data-card="replicas"]')).toBeVisible();
  await page.click('button.share-button');
  const dialog = page.locator('.share-dialog');
  await expect(dialog).toBeVisible();
  // Today's view is preselected: this deployment, every card.
  const chosen = await dialog.locator('select[name="share-deployment"] option:checked').innerText();
  expect(chosen).toBe('production / chat-llm');
  const boxes = dialog.locator('input[name="share-panel"]');
  expect(await boxes.count()).toBeGreaterThan(4);
  for (const box of await boxes.all()) expect(await box.isChecked()).toBe(true);
  // Two panels, dark, one hour.
  await dialog.locator('.panel-quick button', { hasText: 'None' }).click();
  await dialog.locator('input[name="share-panel"][value="inference_volume"]').check();
  await dialog.locator('input[name="share-panel"][value="response_time"]').check();
  await dialog.locator('select[name="share-theme"]').selectOption('dark');
  await dialog.locator('select[name="share-ttl"]').selectOption('3600');
  // Without a token the dialog says what to do and mints nothing.
  await dialog.locator('button[type="submit"]').click();
  await expect(dialog.locator('[role="alert"]')).toContainText('inferscope link --admin');
  // A scoped (non-admin) token is refused with the server's reason.
  const scoped = await mint({ ...CHAT, ttl_s: 600 });
  await dialog.locator('input[name="share-admin"]').fill(scoped.token);
  await dialog.locator('button[type="submit"]').click();
  await expect(dialog.locator('[role="alert"]')).toContainText(/admin/);
  await expect(dialog.locator('#share-link')).toHaveCount(0);
  await dialog.locator('input[name="share-admin"]').fill(admin);
  await dialog.locator('button[type="submit"]').click();
  const linkField = dialog.locator('#share-link');
  await expect(linkField).toBeVisible({ timeout: 15_000 });
  const url = await linkField.inputValue();
  const snippet = await dialog.locator('#share-iframe').inputValue();
  await expect(dialog.locator('.expiry')).toContainText(/expires \d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
  expect(url.startsWith(`${DASHBOARD}/?`)).toBe(true);
  const params = new URL(url).searchParams;
  expect(params.get('deployment')).toBe('chat-llm');
  expect(params.get('environment')).toBe('production');
  // The Response time card's tabs come with it: inference time, time to first byte, engine queue.
  expect(params.get('panels')).toBe(
    'inference_volume,response_time,inference_time,time_to_first_byte,engine_queue_time',
  );
  expect(params.get('range')).toBe('15m');
  expect(params.get('embed')).toBe('1');
  expect(params.get('theme')).toBe('dark');
  expect(params.get('token')).not.toBe(admin);
  expect(snippet).toContain(`src="${url.replaceAll('&', '&amp;')}"`);
  await page.screenshot({ path: `${SHOTS}/share-dialog.png` });
  // The minted token is limited to what was chosen, for about an hour.
  const claims = JSON.parse(Buffer.from(params.get('token').split('.')[1], 'base64url').toString());
  expect(claims.d).toBe('chat-llm');
  expect(claims.a).toBeUndefined();
  const lifetime = claims.x - Date.now() / 1000;
  expect(lifetime).toBeGreaterThan(3500);
  expect(lifetime).toBeLessThanOrEqual(3600);
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);

  // Someone else, in a fresh browser: the two panels, dark, live; no toolbar.
  const other = await browser.newContext();
  const fresh = await other.newPage();
  await fresh.goto(url);
  await expect(fresh.locator('section.card')).toHaveCount(2);
  await expect(fresh.locator('section.card[data-card="response_time"]')).toBeVisible();
  await expect(fresh.locator('html')).toHaveAttribute('data-theme', 'dark');
  await expect(fresh.locator('.topbar')).toHaveCount(0);
  await expect
    .poll(async () => Number(await fresh.locator('.grid').getAttribute('data-live-messages')), { timeout: 30_000 })
    .toBeGreaterThan(1);
  // The same browser cannot widen the link to another deployment.
  await fresh.goto(url.replace('deployment=chat-llm', 'deployment=embedder'));
  await expect(fresh.locator('.refused .reason')).toContainText('this token is for deployment "chat-llm"');
  // The snippet pasted into an allowed console, verbatim.
  await fresh.goto(`http://${HOST}:${ALLOWED_PORT}/?snippet=${encodeURIComponent(snippet)}`);
  const frame = fresh.frameLocator('iframe');
  await expect(frame.locator('section.card')).toHaveCount(2);
  await expect(frame.locator('section.card[data-card="inference_volume"] .now')).toContainText('req/s', {
    timeout: 30_000,
  });
  await fresh.screenshot({ path: `${SHOTS}/share-pasted-iframe.png` });
  await other.close();
});
