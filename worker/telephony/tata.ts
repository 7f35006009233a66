// Tata SIP trunk → Asterisk → bridge → here. Inbound calls are resolved strictly by the dialled
// DID among the `generic` numbers; numbers are provisioned by hand on the trunk and in the
// dialplan, so register/unregister fail explicitly rather than pretend (the seed design's decision).
import type { Database } from '../lib/db.ts';
import { type CallEvent, type InboundCall, ManualProvisioningError, type NumberRegistration, type TelephonyAdapter } from './adapter.ts';
import { recordInboundCall } from './inbound.ts';

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

  onInboundCall(call: InboundCall): Promise<CallEvent> {
    return recordInboundCall(this.#db, call, 'generic');
  }
}
