// `npm run db:migrate`: applies the committed drizzle/ migrations, as the database owner. Target:
// DATABASE_URL from the environment, else DATABASE_OWNER_URL or DATABASE_URL from .dev.vars, else
// the local embedded PostgreSQL (started for the purpose).
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { isMain } from './is-main.ts';

export const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url));

/** Applies the migrations of `folder` (the committed ones unless a test says otherwise). */
export async function migrateDatabase(url: string, folder = MIGRATIONS): Promise<void> {
  // One client, not a pool: Client.end() resolves once the connection is closed, while a pool's
  // end() may resolve with a client still closing — a server stopped right after (the migrations
  // test stops its cluster) then fails that client with an unhandled "terminating connection".
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrate(drizzle({ client }), { migrationsFolder: folder });
  } finally {
    await client.end();
  }
}

/**
 * Local development and tests only: lets the application role (created NOLOGIN by the migrations)
 * log in with a fixed local password, and returns the URL the Worker should use — so local runs
 * go through row-level security exactly as production does. Production sets its own password
 * (README, "Deploying").
 */
export async function enableLocalAppRole(ownerUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    // One SCRAM iteration instead of 4096: with `password` auth the server derives the SCRAM key
    // from the cleartext on every connection, ~3 ms of CPU each, and every Worker request connects
    // anew. A loopback-only development password loses nothing by it.
    await client.query('set scram_iterations = 1');
    await client.query(`alter role ${APP_ROLE} with login password '${LOCAL_APP_PASSWORD}'`);
  } finally {
    await client.end();
  }
  const url = new URL(ownerUrl);
  url.username = APP_ROLE;
  url.password = LOCAL_APP_PASSWORD;
  return url.toString();
}

const APP_ROLE = 'vca_app';
const LOCAL_APP_PASSWORD = 'vca_app_local';

if (isMain(import.meta.url)) {
  const { readDevVars, startDatabase } = await import('./local-stack.ts');
  const devVars = process.env.DATABASE_URL ? {} : readDevVars();
  const url = process.env.DATABASE_URL || devVars.DATABASE_OWNER_URL || devVars.DATABASE_URL;
  const database = url ? { url, stop: async () => {} } : await startDatabase();
  try {
    await migrateDatabase(database.url);
    console.log(`migrations applied to ${redact(database.url)}`);
  } catch (error) {
    console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  } finally {
    await database.stop();
  }
}

function redact(url: string) {
  try {
    const parsed = new URL(url);
    parsed.password = parsed.password ? '***' : '';
    return parsed.toString();
  } catch {
    return '(invalid DATABASE_URL)';
  }
}
