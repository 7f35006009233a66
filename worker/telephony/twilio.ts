// Twilio: the caller dials a number of the configured Twilio account, Twilio asks VCA what to do
// (POST /webhooks/twilio/voice) and streams the call's audio to /internal/media/twilio/…. This
// adapter does what the seed's contract asks of a carrier: registerNumber points the number's
// voice URL and status callback at VCA through Twilio's REST API (2010-04-01, Basic auth
// AccountSid:AuthToken), unregisterNumber takes them off again, and onInboundCall resolves the
// dialled number strictly among the `twilio` numbers, like every carrier's inbound call.
import type { TwilioSettings } from '../lib/config.ts';
import type { Database } from '../lib/db.ts';
import { type CallEvent, type InboundCall, type NumberRegistration, ProviderError, type TelephonyAdapter } from './adapter.ts';
import { recordInboundCall } from './inbound.ts';

/** Each request to Twilio's API must answer within this, or the change fails as unreachable. */
export const TWILIO_API_TIMEOUT_MS = 5_000;

export const TWILIO_WEBHOOK_PATHS = { voice: '/webhooks/twilio/voice', status: '/webhooks/twilio/status' } as const;
export const TWILIO_MEDIA_PREFIX = '/internal/media/twilio/';

/** The number's voice URL and status callback, as registered and as Twilio signs its requests to them. */
export function twilioWebhookUrls(publicBaseUrl: string) {
  return { voice: `${publicBaseUrl}${TWILIO_WEBHOOK_PATHS.voice}`, status: `${publicBaseUrl}${TWILIO_WEBHOOK_PATHS.status}` };
}

/**
 * Where Twilio streams a routed call's audio: the call's route is in the path, because Twilio
 * drops a query string from a <Stream> URL (its errors 31920/31922); Twilio signs this URL.
 */
export function twilioMediaUrl(publicBaseUrl: string, route: { tenant_id: string; call_record_id: string }): string {
  const base = publicBaseUrl.replace(/^http/, 'ws');
  return `${base}${TWILIO_MEDIA_PREFIX}${route.tenant_id}/${route.call_record_id}`;
}

interface IncomingPhoneNumber {
  sid: string;
  phone_number: string;
  voice_url: string | null;
  status_callback: string | null;
}

export class TwilioTelephonyAdapter implements TelephonyAdapter {
  readonly #db: Database | undefined;
  readonly #twilio: TwilioSettings;

  /** `db` is needed for onInboundCall only. */
  constructor(twilio: TwilioSettings, db?: Database) {
    this.#twilio = twilio;
    this.#db = db;
  }

  async registerNumber(tenantId: string, phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    const number = await this.#find('registerNumber', didNumber);
    const urls = twilioWebhookUrls(this.#twilio.publicBaseUrl);
    // A TwiML App on the number would take precedence over its voice URL: VCA takes the number over.
    await this.#update('registerNumber', number, {
      VoiceUrl: urls.voice,
      VoiceMethod: 'POST',
      VoiceApplicationSid: '',
      StatusCallback: urls.status,
      StatusCallbackMethod: 'POST',
    });
    return this.#registration(tenantId, phoneNumberId, didNumber, number.sid, urls.voice, urls.status);
  }

  /** Clears the voice URL and status callback where they point at VCA; a number configured for something else is left alone. */
  async unregisterNumber(tenantId: string, phoneNumberId: string, didNumber: string): Promise<NumberRegistration> {
    const number = await this.#find('unregisterNumber', didNumber);
    const urls = twilioWebhookUrls(this.#twilio.publicBaseUrl);
    const changes: Record<string, string> = {};
    if (number.voice_url === urls.voice) changes.VoiceUrl = '';
    if (number.status_callback === urls.status) changes.StatusCallback = '';
    if (Object.keys(changes).length > 0) await this.#update('unregisterNumber', number, changes);
    const voiceUrl = 'VoiceUrl' in changes ? null : number.voice_url;
    const statusCallback = 'StatusCallback' in changes ? null : number.status_callback;
    return this.#registration(tenantId, phoneNumberId, didNumber, number.sid, voiceUrl, statusCallback);
  }

  onInboundCall(call: InboundCall): Promise<CallEvent> {
    if (!this.#db) throw new Error('TwilioTelephonyAdapter: onInboundCall needs a database');
    return recordInboundCall(this.#db, call, 'twilio');
  }

  async #find(operation: ProviderError['operation'], didNumber: string): Promise<IncomingPhoneNumber> {
    const query = new URLSearchParams({ PhoneNumber: didNumber });
    const answer = await this.#request(operation, 'GET', `/IncomingPhoneNumbers.json?${query}`);
    const numbers = (answer as { incoming_phone_numbers?: IncomingPhoneNumber[] }).incoming_phone_numbers ?? [];
    const number = numbers.find((candidate) => candidate.phone_number === didNumber);
    if (!number || typeof number.sid !== 'string' || !/^PN[0-9a-fA-F]{32}$/.test(number.sid)) {
      throw new ProviderError(
        'twilio',
        operation,
        'not_in_account',
        `${didNumber} is not a phone number of the configured Twilio account.`,
      );
    }
    return number;
  }

  async #update(operation: ProviderError['operation'], number: IncomingPhoneNumber, fields: Record<string, string>): Promise<void> {
    await this.#request(operation, 'POST', `/IncomingPhoneNumbers/${number.sid}.json`, new URLSearchParams(fields));
  }

  async #request(operation: ProviderError['operation'], method: 'GET' | 'POST', path: string, form?: URLSearchParams): Promise<unknown> {
    const { accountSid, authToken, apiBaseUrl } = this.#twilio;
    let response: Response;
    try {
      response = await fetch(`${apiBaseUrl}/2010-04-01/Accounts/${accountSid}${path}`, {
        method,
        headers: {
          authorization: `Basic ${btoa(`${accountSid}:${authToken}`)}`,
          accept: 'application/json',
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        body: form?.toString(),
        signal: AbortSignal.timeout(TWILIO_API_TIMEOUT_MS),
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new ProviderError(
        'twilio',
        operation,
        'unreachable',
        timedOut ? `Twilio's API did not answer within ${TWILIO_API_TIMEOUT_MS / 1000} s.` : 'Twilio’s API could not be reached.',
      );
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      // Twilio's error body: {code, message, more_info, status}. Its code is what its docs index.
      const code = safeJson(text)?.code;
      const reason = `Twilio refused the request: HTTP ${response.status}${typeof code === 'number' ? `, error ${code}` : ''}.`;
      throw new ProviderError('twilio', operation, response.status >= 500 ? 'unreachable' : 'refused', reason);
    }
    const body = safeJson(text);
    if (!body) throw new ProviderError('twilio', operation, 'unreachable', 'Twilio’s API answered something that is not JSON.');
    return body;
  }

  #registration(
    tenantId: string,
    phoneNumberId: string,
    didNumber: string,
    sid: string,
    voiceUrl: string | null,
    statusCallback: string | null,
  ): NumberRegistration {
    return {
      tenant_id: tenantId,
      phone_number_id: phoneNumberId,
      did_number: didNumber,
      provider: 'twilio',
      details: { incoming_phone_number_sid: sid, voice_url: voiceUrl || null, status_callback: statusCallback || null },
    };
  }
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
