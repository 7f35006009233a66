// What `npm run dev`, `npm run db:migrate` and the benchmark share: the local settings file and
// the local database.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { type LocalPostgres, startLocalPostgres } from './local-postgres.ts';

const root = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

export const DEV_PORTS = { worker: 8787, bridge: 8788, realtime: 8790, postgres: 54329, wsProxy: 54330 } as const;

/** .dev.vars as a record, created from .dev.vars.example on first use. */
export function readDevVars(): Record<string, string> {
  const file = root('.dev.vars');
  if (!existsSync(file)) {
    copyFileSync(root('.dev.vars.example'), file);
    console.log('created .dev.vars from .dev.vars.example (local defaults; edit it to change them)');
  }
  const parsed = parseEnv(readFileSync(file, 'utf8'));
  const example = parseEnv(readFileSync(root('.dev.vars.example'), 'utf8'));
  const missing = Object.keys(example).filter((key) => !(key in parsed));
  if (missing.length > 0) {
    console.warn(`.dev.vars lacks ${missing.join(', ')} (see .dev.vars.example); the Worker will report it as misconfigured`);
  }
  return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}

/** The embedded development database; its data lives in .local/postgres and survives restarts. */
export function startDatabase(): Promise<LocalPostgres> {
  return startLocalPostgres({ dataDir: root('.local/postgres'), port: DEV_PORTS.postgres, database: 'vca' });
}

export function isLoopbackUrl(url: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}
