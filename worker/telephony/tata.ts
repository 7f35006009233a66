// Tata SIP trunk → Asterisk → bridge → here. Inbound calls are resolved strictly by the dialled
// DID; numbers are provisioned by hand on the trunk and in the dialplan, so register/unregister
// fail explicitly rather than pretend (the seed design's decision).
import type { InboundErrorCode } from '../../contract/ingest.ts';
import { resolveAndRecordInboundCall } from '../db/cross-tenant.ts';
import { type Database, databaseUnavailable } from '../lib/db.ts';
import { type CallEvent, type InboundCall, ManualProvisioningError, type NumberRegistration, type TelephonyAdapter } from './adapter.ts';

export class TataTelephonyAdapter implements TelephonyAdapter {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async registerNumber(_tenantId: string, _phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    throw new ManualProvisioningError('tata', 'registerNumber', didNumber);
  }

  async unregisterNumber(_tenantId: string, _phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    throw new ManualProvisioningError('tata', 'unregisterNumber', didNumber);
  }

  async onInboundCall(call: InboundCall): Promise<CallEvent> {
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

    const record = { did: call.did, callerNumber: call.caller_number, callId: call.call_id, startedAt: call.timestamp };
    let row = await resolveAndRecordInboundCall(this.#db, record);
    if (row && !row.call_record_id && row.is_active && row.tenant_status === 'active') {
      // The same call arrived twice at the same instant: the other request's insert won, but its
      // row was not yet visible to this statement's snapshot. Asking again finds it.
      row = await resolveAndRecordInboundCall(this.#db, record);
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
}
