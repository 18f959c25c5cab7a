// Runs the browser tests against a server that is starting up: cargo-leptos starts the
// server and this command together, so wait until the server answers, then run Playwright.
import { spawn } from 'node:child_process';

const base = process.env.INFERSCOPE_URL ?? `http://${process.env.LEPTOS_SITE_ADDR ?? '127.0.0.1:3000'}`;
const deadline = Date.now() + 180_000;

async function ready() {
  try {
    const response = await fetch(`${base}/healthz`);
    return response.ok;
  } catch {
    return false;
  }
}

while (!(await ready())) {
  if (Date.now() > deadline) {
    console.error(`e2e: the server at ${base} did not answer /healthz within 180 s`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(`e2e: server ready at ${base}`);

const child = spawn('npx', ['playwright', 'test', '--config', 'e2e/playwright.config.mjs'], {
  stdio: 'inherit',
  env: { ...process.env, INFERSCOPE_URL: base, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
});
child.on('exit', (code, signal) => {
  if (signal) {
    console.error(`e2e: playwright ended by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
