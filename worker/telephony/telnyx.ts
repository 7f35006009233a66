// Telnyx: the caller dials a number of the configured Telnyx account, Telnyx sends the call's
// events to VCA's Call Control application (POST /webhooks/telnyx/call-control) and VCA drives
// the call with commands (telnyx-api.ts). This adapter does what the seed's contract asks of a
// carrier: registerNumber assigns the number to VCA's Call Control application
// (TELNYX_CONNECTION_ID) through Telnyx's number API, unregisterNumber takes it off again, and
// onInboundCall resolves the dialled number strictly among the `telnyx` numbers, like every
// carrier's inbound call. Unlike Twilio, the webhook URL lives on the application, not the number.
import type { TelnyxSettings } from '../lib/config.ts';
import type { Database } from '../lib/db.ts';
import { type CallEvent, type InboundCall, type NumberRegistration, ProviderError, type TelephonyAdapter } from './adapter.ts';
import { recordInboundCall } from './inbound.ts';
import {
  findTelnyxNumber,
  setTelnyxNumberConnection,
  TELNYX_API_TIMEOUT_MS,
  type TelnyxPhoneNumber,
  type TelnyxRequestFailure,
} from './telnyx-api.ts';

export const TELNYX_WEBHOOK_PATH = '/webhooks/telnyx/call-control';

/** The webhook URL VCA's Call Control application must have in Mission Control. */
export function telnyxWebhookUrl(publicBaseUrl: string): string {
  return `${publicBaseUrl}${TELNYX_WEBHOOK_PATH}`;
}

export class TelnyxTelephonyAdapter implements TelephonyAdapter {
  readonly #db: Database | undefined;
  readonly #telnyx: TelnyxSettings;

  /** `db` is needed for onInboundCall only. */
  constructor(telnyx: TelnyxSettings, db?: Database) {
    this.#telnyx = telnyx;
    this.#db = db;
  }

  /** Assigns the number to VCA's Call Control application; one already assigned to it is left as it is. */
  async registerNumber(tenantId: string, phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    const number = await this.#find('registerNumber', didNumber);
    const ours = this.#telnyx.connectionId;
    if (number.connection_id !== ours) await this.#assign('registerNumber', number, ours);
    return this.#registration(tenantId, phoneNumberId, didNumber, number.id, ours);
  }

  /** Takes the number off VCA's application; a number assigned to another application is left alone. */
  async unregisterNumber(tenantId: string, phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    const number = await this.#find('unregisterNumber', didNumber);
    if (number.connection_id !== this.#telnyx.connectionId) {
      return this.#registration(tenantId, phoneNumberId, didNumber, number.id, number.connection_id);
    }
    await this.#assign('unregisterNumber', number, null);
    return this.#registration(tenantId, phoneNumberId, didNumber, number.id, null);
  }

  onInboundCall(call: InboundCall): Promise<CallEvent> {
    if (!this.#db) throw new Error('TelnyxTelephonyAdapter: onInboundCall needs a database');
    return recordInboundCall(this.#db, call, 'telnyx');
  }

  async #find(operation: ProviderError['operation'], didNumber: string): Promise<TelnyxPhoneNumber> {
    const found = await findTelnyxNumber(this.#telnyx, didNumber);
    if (!found.ok) throw failure(operation, found);
    if (!found.number) {
      throw new ProviderError(
        'telnyx',
        operation,
        'not_in_account',
        `${didNumber} is not a phone number of the configured Telnyx account.`,
      );
    }
    return found.number;
  }

  async #assign(operation: ProviderError['operation'], number: TelnyxPhoneNumber, connectionId: string | null): Promise<void> {
    const updated = await setTelnyxNumberConnection(this.#telnyx, number.id, connectionId);
    if (!updated.ok) throw failure(operation, updated);
  }

  #registration(
    tenantId: string,
    phoneNumberId: string,
    didNumber: string,
    numberId: string,
    connectionId: string | null,
  ): NumberRegistration {
    return {
      tenant_id: tenantId,
      phone_number_id: phoneNumberId,
      did_number: didNumber,
      provider: 'telnyx',
      details: { telnyx_phone_number_id: numberId, connection_id: connectionId },
    };
  }
}

function failure(operation: ProviderError['operation'], failed: TelnyxRequestFailure): ProviderError {
  if (failed.reason === 'refused') {
    // Telnyx's error body names a code its docs index (e.g. 10009 authentication failed).
    const detail = `Telnyx refused the request: HTTP ${failed.status}${failed.code ? `, error ${failed.code}` : ''}.`;
    return new ProviderError('telnyx', operation, 'refused', detail);
  }
  const detail = failed.timedOut
    ? `Telnyx's API did not answer within ${TELNYX_API_TIMEOUT_MS / 1000} s.`
    : failed.status
      ? `Telnyx's API failed: HTTP ${failed.status}.`
      : 'Telnyx’s API could not be reached.';
  return new ProviderError('telnyx', operation, 'unreachable', detail);
}
