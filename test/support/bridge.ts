// Runs the bridge as a real process (node bridge/main.ts), as systemd would run the bundle.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webhookHeaders } from '../../contract/signing.ts';
import { freePort } from '../../tools/free-port.ts';
import { uriEncode } from './asterisk-dialplan.ts';
import { SIGNING_SECRETS } from './constants.ts';

const MAIN = fileURLToPath(new URL('../../bridge/main.ts', import.meta.url));

export interface BridgeHealth {
  status: string;
  spool: { depth: number; oldest_pending_age_seconds: number | null; dead_letters: number };
  last_delivery_error: string | null;
  worker_last_ok_at: string | null;
  routes: { count: number; version: number | null; synced_at: string | null; age_seconds: number | null; last_error: string | null };
  media: { active: number; total: number; refused: number; last_error: string | null };
}

export interface RunningBridge {
  url: string;
  spoolDir: string;
  process: ChildProcess;
  output: () => string;
  /** POST form fields exactly as Asterisk's CURL() does: each value URIENCODE'd, joined with &. */
  postForm(path: string, fields: Record<string, string>): Promise<{ status: number; text: string; answer: URLSearchParams }>;
  health(): Promise<BridgeHealth>;
  /**
   * Resolves once a sync has brought the bridge's routing table every route change the Worker has
   * now: what a test waits for after changing a number through the API, before calling it
   * through the bridge.
   */
  routesSynced(timeoutMs?: number): Promise<BridgeHealth>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The routing version of the Worker's database now (GET /internal/telephony/routes, signed). */
export async function workerRoutingVersion(workerUrl: string): Promise<number> {
  const headers = await webhookHeaders(SIGNING_SECRETS[0], '');
  const response = await fetch(`${workerUrl}/internal/telephony/routes?after=${Number.MAX_SAFE_INTEGER}&limit=1`, {
    headers: { ...headers },
  });
  if (response.status !== 200) throw new Error(`GET /internal/telephony/routes answered ${response.status}`);
  return ((await response.json()) as { version: number }).version;
}

export function bridgeEnv(workerUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    VCA_WORKER_URL: workerUrl,
    VCA_SIGNING_SECRET: SIGNING_SECRETS[0],
    BRIDGE_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'vca-spool-')),
    BRIDGE_RETRY_BASE_MS: '100',
    BRIDGE_RETRY_MAX_MS: '1000',
    ...overrides,
  };
}

/** Runs the bridge with `env` until it exits; for configuration errors. */
export function runBridgeToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: process.env.NODE_OPTIONS ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export async function startBridge(env: Record<string, string>): Promise<RunningBridge> {
  const port = env.BRIDGE_LISTEN ? Number(env.BRIDGE_LISTEN.split(':').at(-1)) : await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: process.env.NODE_OPTIONS ?? '', BRIDGE_LISTEN: `127.0.0.1:${port}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;

  const bridge: RunningBridge = {
    url,
    spoolDir: env.BRIDGE_SPOOL_DIR as string,
    process: child,
    output: () => output,
    async postForm(path, fields) {
      const body = Object.entries(fields)
        .map(([key, value]) => `${key}=${uriEncode(value)}`)
        .join('&');
      const response = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      const text = await response.text();
      return { status: response.status, text, answer: new URLSearchParams(text) };
    },
    async health() {
      const response = await fetch(`${url}/healthz`);
      return (await response.json()) as BridgeHealth;
    },
    async routesSynced(timeoutMs = 10_000) {
      const asked = Date.now();
      const version = await workerRoutingVersion(env.VCA_WORKER_URL as string);
      // A sync that completed after the question, at the Worker's version or beyond.
      return waitFor(
        'the bridge’s routing table to catch up',
        async () => {
          const health = await bridge.health();
          const fresh = health.routes.synced_at !== null && Date.parse(health.routes.synced_at) >= asked;
          return fresh && (health.routes.version ?? -1) >= version ? health : undefined;
        },
        timeoutMs,
      );
    },
    kill(signal = 'SIGTERM') {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await bridge.health();
      return bridge;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the bridge did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
