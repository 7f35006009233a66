// For development and tests: remembers what it was asked, touches nothing real, and answers every
// inbound call as accepted for the tenant and number it was configured with.
import type { CallEvent, InboundCall, NumberRegistration, TelephonyAdapter } from './adapter.ts';

export interface FakeRoute {
  tenant_id: string;
  phone_number_id: string;
}

export class FakeTelephonyAdapter implements TelephonyAdapter {
  readonly registered = new Map<string, NumberRegistration>();
  readonly calls: InboundCall[] = [];
  readonly operations: string[] = [];
  readonly #routes: Map<string, FakeRoute>;

  /** `routes`: DID (E.164) → the tenant and number that own it. Unknown DIDs fail. */
  constructor(routes: Record<string, FakeRoute> = {}) {
    this.#routes = new Map(Object.entries(routes));
  }

  async registerNumber(tenantId: string, phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    this.operations.push(`registerNumber ${tenantId} ${didNumber}`);
    const registration = { tenant_id: tenantId, phone_number_id: phoneNumberId, did_number: didNumber, provider: 'fake', details: {} };
    this.registered.set(didNumber, registration);
    this.#routes.set(didNumber, { tenant_id: tenantId, phone_number_id: phoneNumberId });
    return registration;
  }

  async unregisterNumber(tenantId: string, phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    this.operations.push(`unregisterNumber ${tenantId} ${didNumber}`);
    const route = this.#routes.get(didNumber);
    // Tenant-scoped: one tenant cannot unregister another's number.
    if (route && route.tenant_id === tenantId) {
      this.registered.delete(didNumber);
      this.#routes.delete(didNumber);
    }
    return { tenant_id: tenantId, phone_number_id: phoneNumberId, did_number: didNumber, provider: 'fake', details: {} };
  }

  async onInboundCall(call: InboundCall): Promise<CallEvent> {
    this.operations.push(`onInboundCall ${call.called_number} ${call.call_id}`);
    this.calls.push(call);
    const route = call.did ? this.#routes.get(call.did) : undefined;
    const metadata = {
      caller_number: call.caller_number,
      called_number: call.did ?? call.called_number,
      direction: 'inbound' as const,
      timestamp: call.timestamp,
      call_id: call.call_id,
    };
    const now = Math.floor(Date.now() / 1000);
    return route
      ? {
          event_type: 'INITIATED',
          metadata: { ...metadata, ...route },
          timestamp: now,
          details: { call_record_id: `fake-${call.call_id}`, ai_profile: null },
        }
      : {
          event_type: 'FAILED',
          metadata: { ...metadata, tenant_id: null, phone_number_id: null },
          timestamp: now,
          details: { code: 'unknown_did' },
        };
  }
}
