// The two statements of the telephony path. Both find the tenant only through the dialled
// number's phone_numbers row: no fallback, no default tenant. They are cross-tenant by nature (the
// tenant is what they find out), so they run as SECURITY DEFINER functions (drizzle/0002), the
// only way past row-level security, rather than inside withTenant.
import { sql } from 'drizzle-orm';
import { NORMAL_CLEARING_CAUSES } from '../../contract/ingest.ts';
import type { Database } from '../lib/db.ts';

export interface InboundResolution {
  tenant_id: string;
  phone_number_id: string;
  is_active: boolean;
  tenant_status: 'active' | 'suspended' | 'deleted';
  call_record_id: string | null;
  ai_profile_id: string | null;
  ai_profile_name: string | null;
  ai_profile_role: string | null;
}

export interface NewInboundCall {
  did: string;
  callerNumber: string | null;
  callId: string;
  startedAtSeconds: number;
}

/**
 * The hot path, in one statement: resolve the DID, check number and tenant are active, pick the
 * tenant's default AI profile and insert the call — or find the call this request already
 * created. No row: the DID is unknown.
 */
export async function resolveAndRecordInboundCall(db: Database, call: NewInboundCall): Promise<InboundResolution | undefined> {
  const result = await db.execute(
    sql`select * from vca_record_inbound_call(${call.did}, ${call.callerNumber}, ${call.callId}, to_timestamp(${call.startedAtSeconds}))`,
  );
  return result.rows[0] as InboundResolution | undefined;
}

export interface CallEnd {
  did: string;
  callId: string;
  endedAtSeconds: number;
  durationSeconds: number;
  hangupCause: number;
}

/**
 * Ends the call of (tenant of the dialled number, external call id), whatever the number's or
 * tenant's state now. The first end wins: an ended or failed call is never changed again.
 * No row: no such call.
 */
export async function recordCallEnded(db: Database, end: CallEnd): Promise<{ id: string; status: 'ended' | 'failed' } | undefined> {
  const normal = `{${NORMAL_CLEARING_CAUSES.join(',')}}`;
  const result = await db.execute(
    sql`select * from vca_record_call_ended(${end.did}, ${end.callId}, to_timestamp(${end.endedAtSeconds}), ${end.durationSeconds}, ${end.hangupCause}, ${normal}::int[])`,
  );
  return result.rows[0] as { id: string; status: 'ended' | 'failed' } | undefined;
}

/**
 * Ends a batch of calls in one statement, each by the rules of recordCallEnded (within the batch
 * too, the first end of a call wins). The answers are in the order of `ends`; undefined: no such call.
 */
export async function recordCallsEnded(
  db: Database,
  /** `did` null: the dialled number is not a DID, so no call can match. */
  ends: (Omit<CallEnd, 'did'> & { did: string | null })[],
): Promise<({ id: string; status: 'ended' | 'failed' } | undefined)[]> {
  const normal = `{${NORMAL_CLEARING_CAUSES.join(',')}}`;
  const result = await db.execute(
    // sql.param: a bare array in the template would become a list of parameters, not one array.
    sql`select * from vca_record_calls_ended(${sql.param(ends.map((end) => end.did))}::text[], ${sql.param(ends.map((end) => end.callId))}::text[],
      ${sql.param(ends.map((end) => end.endedAtSeconds))}::bigint[], ${sql.param(ends.map((end) => end.durationSeconds))}::int[],
      ${sql.param(ends.map((end) => end.hangupCause))}::int[], ${normal}::int[])`,
  );
  const found = new Map((result.rows as { ord: number; id: string; status: 'ended' | 'failed' }[]).map((row) => [row.ord, row]));
  return ends.map((_end, index) => {
    const row = found.get(index + 1);
    return row && { id: row.id, status: row.status };
  });
}
