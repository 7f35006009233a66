// `npm run db:migrate`: applies the committed drizzle/ migrations. Target: DATABASE_URL from the
// environment, else from .dev.vars, else the local embedded PostgreSQL (started for the purpose).
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url));

export async function migrateDatabase(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(drizzle({ client: pool }), { migrationsFolder: MIGRATIONS });
  } finally {
    await pool.end();
  }
}

if (import.meta.main) {
  const { readDevVars, startDatabase } = await import('./local-stack.ts');
  const url = process.env.DATABASE_URL || readDevVars().DATABASE_URL;
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
