// Starts another inferscope for a browser test (the release build, else the debug one) on its own
// loopback port, and waits until it answers /healthz.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const HOST = '127.0.0.1';

export const BINARY =
  process.env.INFERSCOPE_BIN ??
  ['target/release/inferscope', 'target/debug/inferscope'].find((path) => existsSync(path));

// The environment a server on `port` runs with (and `inferscope link` reads the same config).
export function serverEnv(port, extra = {}) {
  return {
    ...process.env,
    LEPTOS_OUTPUT_NAME: 'inferscope',
    LEPTOS_SITE_ROOT: 'target/site',
    LEPTOS_SITE_PKG_DIR: 'pkg',
    LEPTOS_SITE_ADDR: `${HOST}:${port}`,
    LEPTOS_RELOAD_PORT: String(port + 1),
    RUST_LOG: 'warn',
    ...extra,
  };
}

// Spawns `inferscope <args>` on `port`; resolves with the child once it is serving.
export async function startServer(port, args, extraEnv = {}, timeoutMs = 120_000) {
  if (!BINARY) throw new Error('the inferscope binary is not built');
  const child = spawn(BINARY, args, {
    env: serverEnv(port, extraEnv),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://${HOST}:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return child;
    } catch {}
    if (child.exitCode !== null) throw new Error(`the server for ${base} exited (${child.exitCode})`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the server at ${base} did not start`);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
