// The one door past row-level security. Everything else touches tenant data inside withTenant()
// (lib/db.ts); what is here is cross-tenant by nature — the tenant is what it finds out (the
// dialled number of a call, a presented API key) or the operator's view of every tenant — so each
// is a SECURITY DEFINER function (drizzle/0002, 0003, 0008, 0009) owned by the no-login role vca_definer,
// and this file is the only caller of them. Each row type sits beside the call that returns it.
import { sql } from 'drizzle-orm';
import { NORMAL_CLEARING_CAUSES } from '../../contract/ingest.ts';
import type { Database, Tenant } from '../lib/db.ts';
import type { calls, phoneNumbers } from './schema.ts';

/** The carrier a call comes through: the provider type of the numbers it may be resolved among. */
export type ProviderType = (typeof phoneNumbers.$inferSelect)['providerType'];

// ---- The inbound call: resolve the DID and record the call, in one statement ----

export interface InboundResolution {
  tenant_id: string;
  phone_number_id: string;
  is_active: boolean;
  tenant_status: Tenant['status'];
  /** Null: the call was not recorded (number or tenant inactive, or a concurrent duplicate). */
  call_record_id: string | null;
  /** The tenant's default AI profile; null when it has none. */
  ai_profile: { id: string; name: string; role: string } | null;
}

type InboundResolutionRow = Omit<InboundResolution, 'ai_profile'> & {
  // All three or none: the function left-joins the default profile.
  ai_profile_id: string | null;
  ai_profile_name: string | null;
  ai_profile_role: string | null;
};

export interface NewInboundCall {
  /** E.164. */
  did: string;
  callerNumber: string | null;
  callId: string;
  /** Unix epoch seconds. */
  startedAt: number;
  /** Only numbers of this provider type are found: a number of another carrier is unknown here. */
  provider: ProviderType;
}

/**
 * The hot path, in one statement: resolve the DID among the carrier's numbers, check number and
 * tenant are active, pick the tenant's default AI profile and insert the call — or find the call
 * this request already created. No row: the DID is unknown (to this carrier).
 */
export async function resolveAndRecordInboundCall(db: Database, call: NewInboundCall): Promise<InboundResolution | undefined> {
  const result = await db.execute<InboundResolutionRow & Record<string, unknown>>(
    sql`select * from vca_record_inbound_call(${call.did}, ${call.callerNumber}, ${call.callId}, to_timestamp(${call.startedAt}), ${call.provider}::provider_type)`,
  );
  const row = result.rows[0];
  if (!row) return undefined;
  const { ai_profile_id: id, ai_profile_name: name, ai_profile_role: role, ...resolution } = row;
  return { ...resolution, ai_profile: id !== null && name !== null && role !== null ? { id, name, role } : null };
}

// ---- Call ends, one or a batch, in one statement ----

export interface CallEnd {
  /** E.164, or null when the dialled number is not a phone number (then no call can match). */
  did: string | null;
  callId: string;
  /** Unix epoch seconds. */
  endedAt: number;
  durationSeconds: number;
  hangupCause: number;
}

export interface EndedCall {
  id: string;
  status: 'ended' | 'failed';
}

/**
 * Ends each call of (tenant of the dialled number, external call id), whatever the number's or
 * tenant's state now: `failed` when its talk time is 0 and the cause is not normal clearing,
 * otherwise `ended`. The first end wins, also between two events for one call in the batch: an
 * ended or failed call is never changed again. The answers are in the order of `ends`;
 * undefined: no such call.
 */
export async function recordCallsEnded(db: Database, ends: readonly CallEnd[]): Promise<(EndedCall | undefined)[]> {
  const normal = `{${NORMAL_CLEARING_CAUSES.join(',')}}`;
  const result = await db.execute<{ ord: number } & EndedCall & Record<string, unknown>>(
    // sql.param: a bare array in the template would become a list of parameters, not one array.
    sql`select * from vca_record_calls_ended(${sql.param(ends.map((end) => end.did))}::text[], ${sql.param(ends.map((end) => end.callId))}::text[],
      ${sql.param(ends.map((end) => end.endedAt))}::bigint[], ${sql.param(ends.map((end) => end.durationSeconds))}::int[],
      ${sql.param(ends.map((end) => end.hangupCause))}::int[], ${normal}::int[])`,
  );
  const found = new Map(result.rows.map((row) => [row.ord, row]));
  return ends.map((_end, index) => {
    const row = found.get(index + 1);
    return row && { id: row.id, status: row.status };
  });
}

// ---- A carrier's "ringing" or "answered" (drizzle/0008) ----

export type CallStatus = (typeof calls.$inferSelect)['status'];

export interface CallProgress {
  /** E.164. */
  did: string;
  callId: string;
  status: 'ringing' | 'answered';
  /** Unix epoch seconds. */
  at: number;
}

/**
 * Moves the call of (tenant of the dialled number, external call id) forward to `status` —
 * never backwards, never out of ended or failed — and answers its status afterwards;
 * undefined: no such call.
 */
export async function recordCallProgress(db: Database, progress: CallProgress): Promise<{ id: string; status: CallStatus } | undefined> {
  const { rows } = await db.execute<{ id: string; status: CallStatus } & Record<string, unknown>>(
    sql`select * from vca_record_call_progress(${progress.did}, ${progress.callId}, ${progress.status}::call_status, to_timestamp(${progress.at}))`,
  );
  return rows[0];
}

// ---- Routing at the PBX: the bridge's copy of the routes, and the calls it routed from it ----

export interface RouteChange {
  /** The routing version of this change. */
  version: number;
  phoneNumberId: string;
  /** Null: the number no longer routes through the PBX (deleted, or not a generic number). */
  route: {
    did: string;
    tenantId: string;
    numberActive: boolean;
    tenantActive: boolean;
    aiProfile: { id: string; name: string; role: string } | null;
  } | null;
}

type RouteRow = {
  head: string;
  version: string | null;
  phone_number_id: string | null;
  did_number: string | null;
  tenant_id: string | null;
  number_active: boolean | null;
  tenant_active: boolean | null;
  ai_profile_id: string | null;
  ai_profile_name: string | null;
  ai_profile_role: string | null;
};

/**
 * The routes changed after version `after` (oldest change first, at most `limit`), and `head`,
 * the highest version the database has stamped. One statement, one snapshot: versions are
 * stamped in commit order (drizzle/0009), so nothing below the last one returned can appear later.
 */
export async function listRouteChanges(db: Database, after: number, limit: number): Promise<{ head: number; changes: RouteChange[] }> {
  const { rows } = await db.execute<RouteRow & Record<string, unknown>>(sql`select * from vca_list_routes(${after}, ${limit})`);
  const head = Number(rows[0]?.head ?? 0);
  const changes = rows.flatMap((row): RouteChange[] => {
    if (row.version === null || row.phone_number_id === null) return [];
    const routed = row.did_number !== null && row.tenant_id !== null;
    const { ai_profile_id: id, ai_profile_name: name, ai_profile_role: role } = row;
    return [
      {
        version: Number(row.version),
        phoneNumberId: row.phone_number_id,
        route: routed
          ? {
              did: row.did_number as string,
              tenantId: row.tenant_id as string,
              numberActive: row.number_active === true,
              tenantActive: row.tenant_active === true,
              aiProfile: id !== null && name !== null && role !== null ? { id, name, role } : null,
            }
          : null,
      },
    ];
  });
  return { head, changes };
}

export interface RoutedCall {
  /** The id the bridge created and gave Asterisk. */
  callRecordId: string;
  tenantId: string;
  phoneNumberId: string;
  /** E.164, or null when the dialled number is not a phone number (then it is unknown_did). */
  did: string | null;
  callerNumber: string | null;
  callId: string;
  /** Unix epoch seconds. */
  startedAt: number;
  aiProfileId: string | null;
}

export type RoutedCallRecord =
  | { outcome: 'recorded'; callRecordId: string; replayed: boolean }
  | { outcome: 'unknown_did' | 'route_mismatch' }
  | { outcome: 'conflict' };

/**
 * Records calls the bridge routed from its copy of the routes, in one statement, each with the
 * bridge's id, whatever the number's state now; idempotent on (tenant, external call id). The
 * answers are in the order of `calls`. `conflict`: a concurrent request was recording the same
 * call (not visible yet); asking again finds it.
 */
export async function recordRoutedCalls(db: Database, calls: readonly RoutedCall[]): Promise<RoutedCallRecord[]> {
  const column = <T>(pick: (call: RoutedCall) => T) => sql.param(calls.map(pick));
  const { rows } = await db.execute<
    { ord: number; call_record_id: string | null; replayed: boolean; outcome: string } & Record<string, unknown>
  >(
    sql`select * from vca_record_routed_calls(${column((c) => c.callRecordId)}::uuid[], ${column((c) => c.tenantId)}::uuid[],
      ${column((c) => c.phoneNumberId)}::uuid[], ${column((c) => c.did)}::text[], ${column((c) => c.callerNumber)}::text[],
      ${column((c) => c.callId)}::text[], ${column((c) => c.startedAt)}::float8[], ${column((c) => c.aiProfileId)}::uuid[])`,
  );
  const byOrd = new Map(rows.map((row) => [row.ord, row]));
  return calls.map((_call, index): RoutedCallRecord => {
    const row = byOrd.get(index + 1);
    if (row?.outcome === 'recorded' && row.call_record_id)
      return { outcome: 'recorded', callRecordId: row.call_record_id, replayed: row.replayed };
    if (row?.outcome === 'unknown_did' || row?.outcome === 'route_mismatch') return { outcome: row.outcome };
    return { outcome: 'conflict' };
  });
}

// ---- Tenant API keys: found by the prefix of the presented secret ----

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  /** SHA-256 of the whole secret, hex; the caller compares it in constant time. */
  secret_hash: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  tenant_status: Tenant['status'];
}

export async function findApiKey(db: Database, lookupPrefix: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await db.execute<ApiKeyRow & Record<string, unknown>>(sql`select * from vca_find_api_key(${lookupPrefix})`);
  return rows[0];
}

export async function touchApiKey(db: Database, keyId: string): Promise<void> {
  await db.execute(sql`select vca_touch_api_key(${keyId})`);
}

// ---- The operator's list of every tenant ----

/** What the tenant routes present (timestamps as Postgres text, which toIso reads). */
export type TenantRow = Pick<Tenant, 'id' | 'name' | 'status' | 'plan' | 'createdAt' | 'updatedAt'>;

export async function listTenants(
  db: Database,
  query: { status: Tenant['status'] | undefined; after: { createdAt: string; id: string } | undefined; limit: number },
): Promise<TenantRow[]> {
  const { rows } = await db.execute<TenantRow & Record<string, unknown>>(sql`
    select id, name, status, plan, created_at as "createdAt", updated_at as "updatedAt"
    from vca_list_tenants(${query.status ?? null}, ${query.after?.createdAt ?? null}::timestamptz, ${query.after?.id ?? null}::uuid, ${query.limit})
  `);
  return rows;
}
