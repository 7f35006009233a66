// `npm run bench -- --pooler`: PgBouncer in transaction mode in front of the benchmark's Postgres,
// the way Neon's pooled (`-pooler`) endpoint serves production. Every request still opens its own
// connection, to PgBouncer, which hands it a server connection that stays open; so the per-call
// cost of a new Postgres backend (process start, catalog caches) is gone. Needs the `pgbouncer`
// binary (Debian/Ubuntu: apt-get install pgbouncer); it is not an npm package.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.ts';

export interface Pooler {
  /** The application URL, pointing at PgBouncer instead of Postgres. */
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export function findPgBouncer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, 'pgbouncer')).find((path) => existsSync(path));
}

export async function startPooler(appUrl: string, dir: string): Promise<Pooler> {
  const binary = findPgBouncer();
  if (!binary) throw new Error('--pooler needs PgBouncer on PATH (Debian/Ubuntu: apt-get install pgbouncer)');
  const target = new URL(appUrl);
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  // PgBouncer refuses to run as root: it switches to the `postgres` user, which must read this.
  chmodSync(dir, 0o755);
  const users = join(dir, 'users.txt');
  const config = join(dir, 'pgbouncer.ini');
  const database = target.pathname.slice(1);
  writeFileSync(users, `"${decodeURIComponent(target.username)}" "${decodeURIComponent(target.password)}"\n`);
  writeFileSync(
    config,
    [
      '[databases]',
      `${database} = host=${target.hostname} port=${target.port} dbname=${database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      // Cleartext, like the local Postgres and the Worker's pipelined password (loopback only).
      'auth_type = plain',
      `auth_file = ${users}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      'default_pool_size = 16',
      'unix_socket_dir =',
      'ignore_startup_parameters = extra_float_digits,options',
      // A log line per connection would be thousands a second.
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
  );
  chmodSync(users, 0o644);
  chmodSync(config, 0o644);
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', config] : [config];
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitForPort(port, child);
  const url = new URL(appUrl);
  url.port = String(port);
  return {
    url: url.toString(),
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
    },
  };
}

async function waitForPort(port: number, child: ChildProcess) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error('pgbouncer did not start listening');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
