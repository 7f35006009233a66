// Runs the real Worker bundle in workerd through Miniflare, reachable over real HTTP.
import { appendFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';

export const COMPATIBILITY_DATE = '2026-11-01';

/** Bundles worker/index.ts the way wrangler does (ESM, workerd conditions) into `outfile`. */
export async function bundleWorker(outfile: string): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('../worker/index.ts', import.meta.url))],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2023',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['cloudflare:*'],
    logLevel: 'error',
  });
}

export interface RunningWorker {
  url: string;
  dispose(): Promise<void>;
}

/** Rate limits per 60 s; high by default so ordinary test traffic never meets them. */
export interface Limits {
  api: number;
  ingest: number;
}

/**
 * Starts the bundle with these bindings. Worker console lines are appended to `logFile`.
 * `persistPath`: keep the Durable Objects' storage (and their alarms) in this folder, so that a
 * Worker started again on it finds them, as after a restart; without it, storage goes with the Worker.
 */
export async function startWorker(
  scriptPath: string,
  bindings: Record<string, string>,
  logFile?: string,
  port = 0,
  limits: Limits = { api: 100_000, ingest: 100_000 },
  persistPath?: string,
): Promise<RunningWorker> {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      name: 'vca',
      modules: true,
      // Module paths are resolved below rootPath; workerd refuses any that climb out with `..`.
      rootPath: dirname(scriptPath),
      scriptPath,
      compatibilityDate: COMPATIBILITY_DATE,
      bindings,
      ratelimits: {
        API_RATE_LIMITER: { namespace_id: '1001', simple: { limit: limits.api, period: 60 } },
        INGEST_RATE_LIMITER: { namespace_id: '1002', simple: { limit: limits.ingest, period: 60 } },
      },
      durableObjects: { CALL_SESSION: { className: 'CallSession', useSQLite: true } },
      resourcePersistencePath: persistPath,
      host: '127.0.0.1',
      port,
      handleStructuredLogs: (log) => {
        if (logFile) appendFileSync(logFile, `${log.message}\n`);
      },
    }),
  );
  const url = await mf.ready;
  return { url: url.origin, dispose: () => mf.dispose() };
}
