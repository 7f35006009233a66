// `npm run dev`: the whole local stack in one command. Embedded PostgreSQL (unless .dev.vars sets
// DATABASE_URL), migrations, the WebSocket proxy the Neon driver needs to reach a local Postgres,
// `wrangler dev` on http://127.0.0.1:8787, offline, and the bridge on 127.0.0.1:8788 pointed at
// it. Ctrl-C stops everything it started.
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_PORTS, isLoopbackUrl, readDevVars, startDatabase } from './local-stack.ts';
import { enableLocalAppRole, migrateDatabase } from './migrate.ts';
import { startRealtimeEmulator } from './realtime-emulator.ts';
import { startWsProxy, type WsProxy } from './ws-proxy.ts';

const cleanups: (() => Promise<unknown>)[] = [];
let stopping = false;

async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  await ensurePortsFree();
  const vars = readDevVars();
  const database = vars.DATABASE_URL ? { url: vars.DATABASE_URL, stop: async () => {} } : await startDatabase();
  cleanups.push(() => database.stop());
  console.log(
    vars.DATABASE_URL
      ? 'using DATABASE_URL from .dev.vars'
      : `embedded PostgreSQL on 127.0.0.1:${DEV_PORTS.postgres} (data in .local/postgres)`,
  );

  await migrateDatabase(vars.DATABASE_OWNER_URL ?? database.url);
  console.log('migrations applied');

  const workerVars: string[] = [];
  // The Worker logs in as the application role, under row-level security, as in production.
  if (!vars.DATABASE_URL) workerVars.push(`DATABASE_URL:${await enableLocalAppRole(database.url)}`);
  let proxy: WsProxy | undefined;
  if (isLoopbackUrl(database.url)) {
    proxy = await startWsProxy(DEV_PORTS.wsProxy);
    cleanups.push(() => (proxy as WsProxy).close());
    if (!vars.NEON_WS_PROXY) workerVars.push(`NEON_WS_PROXY:${proxy.address}`);
  }

  // The voice model: the real service when .dev.vars has a key, else the local emulator, so a call's
  // whole media path works offline. Never the emulator in production: wrangler.toml has no URL for it.
  let model = 'the realtime service at REALTIME_URL (REALTIME_API_KEY from .dev.vars)';
  if (!vars.REALTIME_API_KEY) {
    const emulator = await startRealtimeEmulator({ port: DEV_PORTS.realtime });
    cleanups.push(() => emulator.close());
    workerVars.push(`REALTIME_URL:${emulator.url}`, 'REALTIME_API_KEY:emulator');
    model = `the realtime model emulator on ${emulator.url} (no REALTIME_API_KEY in .dev.vars)`;
    console.log(`REALTIME_API_KEY is not set: call sessions talk to the realtime model emulator on ${emulator.url}`);
  }

  const wrangler = startWrangler(workerVars);
  cleanups.push(() => stopChild(wrangler));
  wrangler.on('exit', (code) => {
    if (!stopping) {
      console.error(`wrangler dev exited (${code ?? 'signal'})`);
      void stop(code || 1);
    }
  });

  await waitForWorker(`http://127.0.0.1:${DEV_PORTS.worker}/healthz`);

  const bridge = startBridge(vars.TELEPHONY_SIGNING_SECRETS?.split(',')[0]?.trim() ?? '');
  cleanups.push(() => stopChild(bridge));
  bridge.on('exit', (code) => {
    if (!stopping) {
      console.error(`the bridge exited (${code ?? 'signal'})`);
      void stop(code || 1);
    }
  });
  console.log(`
  VCA is running
    API      http://127.0.0.1:${DEV_PORTS.worker}/api   (Authorization: Bearer <a token from ADMIN_API_TOKENS in .dev.vars>)
    Docs     http://127.0.0.1:${DEV_PORTS.worker}/docs
    OpenAPI  http://127.0.0.1:${DEV_PORTS.worker}/openapi.json
    Health   http://127.0.0.1:${DEV_PORTS.worker}/healthz
    Bridge   http://127.0.0.1:${DEV_PORTS.bridge}   (what Asterisk's dialplan calls; /healthz shows its spool)
    Model    ${model}
  Ctrl-C stops everything.
`);
} catch (error) {
  console.error(`npm run dev failed: ${error instanceof Error ? error.message : String(error)}`);
  await stop(1);
}

function startWrangler(vars: string[]): ChildProcess {
  const bin = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin/wrangler.js');
  const args = [bin, 'dev', '--ip', '127.0.0.1', '--port', String(DEV_PORTS.worker), '--show-interactive-dev-session=false'];
  for (const value of vars) args.push('--var', value);
  return spawn(process.execPath, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    // Its own process group: wrangler runs its CLI and workerd as children, and stopping it must
    // stop them all (see stopChild).
    detached: true,
    env: {
      ...process.env,
      // Offline and private: no telemetry, no request to Cloudflare for the `cf` object.
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    },
  });
}

// The bridge as it runs beside Asterisk, pointed at the local Worker, signing with the first local secret.
function startBridge(secret: string): ChildProcess {
  return spawn(process.execPath, [fileURLToPath(new URL('../bridge/main.ts', import.meta.url))], {
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
    env: {
      ...process.env,
      VCA_WORKER_URL: `http://127.0.0.1:${DEV_PORTS.worker}`,
      VCA_SIGNING_SECRET: secret,
      BRIDGE_LISTEN: `127.0.0.1:${DEV_PORTS.bridge}`,
      BRIDGE_SPOOL_DIR: fileURLToPath(new URL('../.local/bridge-spool', import.meta.url)),
    },
  });
}

/** Stops a child and everything it started (its process group): SIGINT, then SIGKILL after 5 s. */
function stopChild(child: ChildProcess): Promise<void> {
  const group = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  if (child.exitCode !== null || child.signalCode !== null) {
    group('SIGKILL');
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const force = setTimeout(() => group('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      // Whatever the leader left behind goes too.
      group('SIGKILL');
      resolve();
    });
    group('SIGINT');
  });
}

/** A port already taken (often an earlier `npm run dev` still running) is a clear error, not a confusing half-start. */
async function ensurePortsFree() {
  const taken: number[] = [];
  for (const port of [DEV_PORTS.worker, DEV_PORTS.bridge, DEV_PORTS.realtime, DEV_PORTS.wsProxy]) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (!free) taken.push(port);
  }
  if (taken.length > 0) {
    throw new Error(`port ${taken.join(', ')} on 127.0.0.1 is in use — is another \`npm run dev\` still running? Stop it first.`);
  }
}

async function waitForWorker(url: string) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`the Worker did not answer on ${url} within 90 s`);
}
