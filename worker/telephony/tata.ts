// Tata SIP trunk → Asterisk → bridge → here. Inbound calls are resolved strictly by the dialled
// DID; numbers are provisioned by hand on the trunk and in the dialplan, so register/unregister
// fail explicitly rather than pretend (the seed design's decision).

import type { InboundErrorCode } from '../../contract/ingest.ts';
import { normalizeDid } from '../../contract/phone.ts';
import { type Database, databaseUnavailable } from '../lib/db.ts';
import { type CallEvent, type InboundCall, ManualProvisioningError, type NumberRegistration, type TelephonyAdapter } from './adapter.ts';
import { resolveAndRecordInboundCall } from './calls.ts';

export class TataTelephonyAdapter implements TelephonyAdapter {
  readonly #db: Database;
  readonly #defaultCountry: string;

  constructor(db: Database, defaultCountry: string) {
    this.#db = db;
    this.#defaultCountry = defaultCountry;
  }

  async registerNumber(_tenantId: string, _phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    throw new ManualProvisioningError('tata', 'registerNumber', didNumber);
  }

  async unregisterNumber(_tenantId: string, _phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    throw new ManualProvisioningError('tata', 'unregisterNumber', didNumber);
  }

  async onInboundCall(call: InboundCall): Promise<CallEvent> {
    // Tata delivers DIDs in national format; our rows are E.164.
    const did = normalizeDid(call.called_number, this.#defaultCountry);
    const metadata = {
      tenant_id: null as string | null,
      phone_number_id: null as string | null,
      caller_number: call.caller_number,
      called_number: did ?? call.called_number,
      direction: 'inbound' as const,
      timestamp: call.timestamp,
      call_id: call.call_id,
    };
    const failed = (code: InboundErrorCode): CallEvent => ({ event_type: 'FAILED', metadata, timestamp: new Date(), details: { code } });
    if (!did) return failed('unknown_did');

    const record = { did, callerNumber: call.caller_number, callId: call.call_id, startedAtSeconds: call.timestamp.getTime() / 1000 };
    let row = await resolveAndRecordInboundCall(this.#db, record);
    if (row && !row.call_record_id && row.is_active && row.tenant_status === 'active') {
      // The same call arrived twice at the same instant: the other request's insert won, but its
      // row was not yet visible to this statement's snapshot. Asking again finds it.
      row = await resolveAndRecordInboundCall(this.#db, record);
    }
    if (!row) return failed('unknown_did');
    metadata.tenant_id = row.tenant_id;
    metadata.phone_number_id = row.phone_number_id;
    if (row.call_record_id) {
      return {
        event_type: 'INITIATED',
        metadata,
        timestamp: new Date(),
        details: {
          call_record_id: row.call_record_id,
          ai_profile: row.ai_profile_id ? { id: row.ai_profile_id, name: row.ai_profile_name, role: row.ai_profile_role } : null,
        },
      };
    }
    if (!row.is_active) return failed('inactive_did');
    if (row.tenant_status !== 'active') return failed('tenant_inactive');
    // Active number and tenant, yet no call after a second look: say "try again", never a wrong refusal.
    throw databaseUnavailable();
  }
}
