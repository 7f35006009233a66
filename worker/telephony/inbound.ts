// The one inbound-call rule every carrier's adapter follows (DESIGN.md, "Strict resolution is
// shared"): the tenant comes only from the dialled number, looked up among that carrier's
// numbers, and the call is recorded in the same statement — idempotent on the carrier's call id.
import type { InboundErrorCode } from '../../contract/ingest.ts';
import { type ProviderType, resolveAndRecordInboundCall } from '../db/cross-tenant.ts';
import { type Database, databaseUnavailable } from '../lib/db.ts';
import type { CallEvent, InboundCall } from './adapter.ts';

/** INITIATED with the call record, or FAILED with why (unknown_did, inactive_did, tenant_inactive). */
export async function recordInboundCall(db: Database, call: InboundCall, provider: ProviderType): Promise<CallEvent> {
  const metadata = {
    tenant_id: null,
    phone_number_id: null,
    caller_number: call.caller_number,
    called_number: call.did ?? call.called_number,
    direction: 'inbound' as const,
    timestamp: call.timestamp,
    call_id: call.call_id,
  };
  const now = Math.floor(Date.now() / 1000);
  const failed = (code: InboundErrorCode): CallEvent => ({ event_type: 'FAILED', metadata, timestamp: now, details: { code } });
  if (!call.did) return failed('unknown_did');

  const record = { did: call.did, callerNumber: call.caller_number, callId: call.call_id, startedAt: call.timestamp, provider };
  let row = await resolveAndRecordInboundCall(db, record);
  if (row && !row.call_record_id && row.is_active && row.tenant_status === 'active') {
    // The same call arrived twice at the same instant: the other request's insert won, but its
    // row was not yet visible to this statement's snapshot. Asking again finds it.
    row = await resolveAndRecordInboundCall(db, record);
  }
  if (!row) return failed('unknown_did');
  if (row.call_record_id) {
    return {
      event_type: 'INITIATED',
      metadata: { ...metadata, tenant_id: row.tenant_id, phone_number_id: row.phone_number_id },
      timestamp: now,
      details: { call_record_id: row.call_record_id, ai_profile: row.ai_profile },
    };
  }
  const resolved = { ...metadata, tenant_id: row.tenant_id, phone_number_id: row.phone_number_id };
  if (!row.is_active) return { ...failed('inactive_did'), metadata: resolved };
  if (row.tenant_status !== 'active') return { ...failed('tenant_inactive'), metadata: resolved };
  // Active number and tenant, yet no call after a second look: say "try again", never a wrong refusal.
  throw databaseUnavailable();
}
