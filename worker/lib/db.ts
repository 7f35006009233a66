// Database access. A Worker cannot reuse a connection across requests, so each request gets its
// own Pool, created on first use and ended after the response (waitUntil). Tenant data is only
// ever touched inside withTenant().
import { neonConfig, Pool } from '@neondatabase/serverless';
import { eq, sql } from 'drizzle-orm';
import { drizzle, type NeonDatabase } from 'drizzle-orm/neon-serverless';
import * as schema from '../db/schema.ts';
import type { Settings } from './config.ts';
import { ApiError, notFound } from './problem.ts';

// No relational schema is passed to drizzle: building it costs on every request (a Worker makes a
// new client per request) and the routes use the query builder only.
export type Database = NeonDatabase;
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
export type Tenant = typeof schema.tenants.$inferSelect;

const CONNECT_TIMEOUT_MS = 5_000;

export function openDatabase(settings: Settings): { db: Database; close: () => Promise<void> } {
  if (settings.NEON_WS_PROXY) {
    // Local development and tests only: reach a plain Postgres through tools/ws-proxy.ts.
    const proxy = settings.NEON_WS_PROXY;
    neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = 'password';
  }
  const pool = new Pool({ connectionString: settings.DATABASE_URL, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle client's socket error must not become an unhandled rejection; the query that needed
  // the connection reports it.
  pool.on('error', () => {});
  return { db: drizzle({ client: pool }), close: () => pool.end() };
}

/**
 * The one way to read or write tenant data: a transaction with `app.tenant_id` set first (so
 * row-level security policies can rely on it), after proving the tenant exists. An unknown
 * tenant is a 404 before `work` runs.
 */
export async function withTenant<T>(db: Database, tenantId: string, work: (tx: Transaction, tenant: Tenant) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
    const [tenant] = await tx.select().from(schema.tenants).where(eq(schema.tenants.id, tenantId));
    if (!tenant) throw notFound('tenant');
    return work(tx, tenant);
  });
}

/** For creating a tenant: the same tenant-scoped transaction, for a tenant that does not exist yet. */
export async function withNewTenant<T>(db: Database, tenantId: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
    return work(tx);
  });
}

/** The Postgres SQLSTATE of an error thrown by a query (drizzle wraps the driver's error). */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** True when the database could not be reached or refused service (not a bug of ours). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const state = sqlState(error);
  if (state) return /^(08|53|57)/.test(state);
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const text = `${(e as { name?: unknown }).name ?? ''} ${(e as { message?: unknown }).message ?? ''}`;
    if (/connect|connection|websocket|socket|ECONN|timeout|terminated|network/i.test(text)) return true;
    if (typeof ErrorEvent !== 'undefined' && e instanceof ErrorEvent) return true;
  }
  return false;
}

export const databaseUnavailable = () =>
  new ApiError(503, 'database_unavailable', 'Service unavailable', 'The database is unreachable. Try again shortly.', {
    headers: { 'retry-after': '5' },
  });
