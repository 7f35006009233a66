// The telephony adapter layer as plain objects, without the Worker. TataTelephonyAdapter's
// database path (onInboundCall with a real number) is covered through the HTTP ingest,
// TwilioTelephonyAdapter's through the voice webhook and TelnyxTelephonyAdapter's through the Call
// Control webhook; their REST calls are tested here against the local stand-ins for the carriers' APIs.
import { describe, expect, it } from 'vitest';
import { normalizeDid } from '../contract/phone.ts';
import { freePort } from '../tools/free-port.ts';
import type { Database } from '../worker/lib/db.ts';
import { type InboundCall, ManualProvisioningError, ProviderError, type TelephonyAdapter } from '../worker/telephony/adapter.ts';
import { TataTelephonyAdapter } from '../worker/telephony/tata.ts';
import { TelnyxTelephonyAdapter } from '../worker/telephony/telnyx.ts';
import { TwilioTelephonyAdapter } from '../worker/telephony/twilio.ts';
import { TELNYX_API_KEY, TELNYX_CONNECTION_ID, TELNYX_PUBLIC_KEY, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN } from './support/constants.ts';
import { startTelnyxApi } from './support/telnyx-api.ts';
import { startTwilioApi } from './support/twilio-api.ts';

const TENANT_A = '0b9c5f5e-3d43-4a43-9a8e-6f1f3c1b2a10';
const NUMBER_A = '1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9';
const DID_A = '+919876543210';

/** A call as the ingest hands it over: the dialled number normalised once, as the routes do. */
function inboundCall(calledNumber: string, fields: Partial<InboundCall> = {}): InboundCall {
  return {
    caller_number: '+14155550123',
    called_number: calledNumber,
    did: normalizeDid(calledNumber, 'IN'),
    call_id: '1706556789.123',
    timestamp: Date.parse('2026-01-29T10:00:00Z') / 1000,
    ...fields,
  };
}

/** A database whose every use throws: proof that the code under test never touched it. */
function untouchableDb(): Database {
  return new Proxy(
    {},
    {
      get(_target, property) {
        throw new Error(`the database was touched (${String(property)})`);
      },
    },
  ) as unknown as Database;
}

/** Tata, seen only through the contract every provider implements. */
function tataAdapter(): TelephonyAdapter {
  return new TataTelephonyAdapter(untouchableDb());
}

describe('TataTelephonyAdapter', () => {
  it.each([
    ['registerNumber', (adapter: TelephonyAdapter) => adapter.registerNumber(TENANT_A, NUMBER_A, DID_A)],
    ['unregisterNumber', (adapter: TelephonyAdapter) => adapter.unregisterNumber(TENANT_A, NUMBER_A, DID_A)],
  ] as const)('%s fails explicitly with a ManualProvisioningError instead of pretending', async (operation, run) => {
    const adapter = tataAdapter();

    const error = await run(adapter).then(
      () => {
        throw new Error(`${operation} resolved, but Tata numbers cannot be provisioned by API`);
      },
      (reason: unknown) => reason,
    );

    expect(error).toBeInstanceOf(ManualProvisioningError);
    expect(error).toBeInstanceOf(Error);
    const problem = error as ManualProvisioningError;
    expect(problem.name).toBe('ManualProvisioningError');
    expect(problem.provider).toBe('tata');
    expect(problem.operation).toBe(operation);
    expect(problem.message).toContain(operation);
    expect(problem.message).toContain(DID_A);
    expect(problem.message).toMatch(/manual/i);
    expect(problem.message).toContain('asterisk/extensions.conf');
    expect(problem.message).toContain('from-tata-trunk');
  });

  it.each(['not-a-number', 'sip:anonymous@203.0.113.7', 's', '123', '+1 555', '   '])(
    'answers a called_number that is no phone number (%j) with FAILED unknown_did, without touching the database',
    async (calledNumber) => {
      const adapter = tataAdapter();
      const call = inboundCall(calledNumber);

      const event = await adapter.onInboundCall(call);

      expect(event.event_type).toBe('FAILED');
      // When the event happened: now, in epoch seconds like every time on the telephony path.
      expect(Math.abs(event.timestamp - Date.now() / 1000)).toBeLessThan(60);
      expect(event.details).toEqual({ code: 'unknown_did' });
      expect(event.metadata).toEqual({
        tenant_id: null,
        phone_number_id: null,
        caller_number: call.caller_number,
        called_number: calledNumber,
        direction: 'inbound',
        timestamp: call.timestamp,
        call_id: call.call_id,
      });
    },
  );

  it('does go to the database for a real phone number (national format included, as the ingest normalised it)', async () => {
    // The counterpart of the test above: the untouchable database does notice when it is used.
    for (const calledNumber of [DID_A, '09876543210']) {
      const adapter = tataAdapter();
      await expect(adapter.onInboundCall(inboundCall(calledNumber))).rejects.toThrow(/database was touched/);
    }
  });
});

describe('TwilioTelephonyAdapter', () => {
  const settings = (apiBaseUrl: string) => ({
    accountSid: TWILIO_ACCOUNT_SID,
    authToken: TWILIO_AUTH_TOKEN,
    publicBaseUrl: 'https://vca.example.com',
    apiBaseUrl,
  });

  it('registers and unregisters through the contract, saying what Twilio now has', async () => {
    const twilioApi = await startTwilioApi();
    try {
      const adapter: TelephonyAdapter = new TwilioTelephonyAdapter(settings(twilioApi.url));
      const registered = await adapter.registerNumber(TENANT_A, NUMBER_A, '+14155550100');
      expect(registered).toEqual({
        tenant_id: TENANT_A,
        phone_number_id: NUMBER_A,
        did_number: '+14155550100',
        provider: 'twilio',
        details: {
          incoming_phone_number_sid: twilioApi.number('+14155550100').sid,
          voice_url: 'https://vca.example.com/webhooks/twilio/voice',
          status_callback: 'https://vca.example.com/webhooks/twilio/status',
        },
      });
      const unregistered = await adapter.unregisterNumber(TENANT_A, NUMBER_A, '+14155550100');
      expect(unregistered.details).toMatchObject({ voice_url: null, status_callback: null });
    } finally {
      await twilioApi.close();
    }
  });

  it('fails with a ProviderError that says why: not in the account, refused, unreachable', async () => {
    const twilioApi = await startTwilioApi();
    try {
      const adapter = new TwilioTelephonyAdapter(settings(twilioApi.url));
      twilioApi.ownsEveryNumber = false;
      await expect(adapter.registerNumber(TENANT_A, NUMBER_A, '+14155550100')).rejects.toMatchObject({
        name: 'ProviderError',
        provider: 'twilio',
        operation: 'registerNumber',
        reason: 'not_in_account',
      });
      twilioApi.ownsEveryNumber = true;
      twilioApi.refuse = { method: 'POST', status: 403, code: 20403, message: 'Forbidden' };
      const refused = await adapter.registerNumber(TENANT_A, NUMBER_A, '+14155550100').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ProviderError);
      expect(refused).toMatchObject({ reason: 'refused', message: expect.stringContaining('HTTP 403, error 20403') });
    } finally {
      await twilioApi.close();
    }
    const gone = new TwilioTelephonyAdapter(settings(`http://127.0.0.1:${await freePort()}`));
    await expect(gone.registerNumber(TENANT_A, NUMBER_A, '+14155550100')).rejects.toMatchObject({ reason: 'unreachable' });
  });
});

describe('TelnyxTelephonyAdapter', () => {
  const settings = (apiBaseUrl: string) => ({
    apiKey: TELNYX_API_KEY,
    publicKey: new Uint8Array(Buffer.from(TELNYX_PUBLIC_KEY, 'base64')),
    connectionId: TELNYX_CONNECTION_ID,
    publicBaseUrl: 'https://vca.example.com',
    apiBaseUrl,
  });

  it('registers and unregisters through the contract, saying what Telnyx now has', async () => {
    const telnyxApi = await startTelnyxApi();
    try {
      const adapter: TelephonyAdapter = new TelnyxTelephonyAdapter(settings(telnyxApi.url));
      const registered = await adapter.registerNumber(TENANT_A, NUMBER_A, '+14155550100');
      expect(registered).toEqual({
        tenant_id: TENANT_A,
        phone_number_id: NUMBER_A,
        did_number: '+14155550100',
        provider: 'telnyx',
        details: { telnyx_phone_number_id: telnyxApi.number('+14155550100').id, connection_id: TELNYX_CONNECTION_ID },
      });
      const unregistered = await adapter.unregisterNumber(TENANT_A, NUMBER_A, '+14155550100');
      expect(unregistered.details).toMatchObject({ connection_id: null });
      expect(telnyxApi.number('+14155550100').connection_id).toBeNull();
    } finally {
      await telnyxApi.close();
    }
  });

  it('fails with a ProviderError that says why: not in the account, refused, unreachable', async () => {
    const telnyxApi = await startTelnyxApi();
    try {
      const adapter = new TelnyxTelephonyAdapter(settings(telnyxApi.url));
      telnyxApi.ownsEveryNumber = false;
      await expect(adapter.registerNumber(TENANT_A, NUMBER_A, '+14155550100')).rejects.toMatchObject({
        name: 'ProviderError',
        provider: 'telnyx',
        operation: 'registerNumber',
        reason: 'not_in_account',
      });
      telnyxApi.ownsEveryNumber = true;
      telnyxApi.refuse = { method: 'PATCH', status: 403, code: '10010', title: 'Forbidden' };
      const refused = await adapter.registerNumber(TENANT_A, NUMBER_A, '+14155550100').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ProviderError);
      expect(refused).toMatchObject({ reason: 'refused', message: expect.stringContaining('HTTP 403, error 10010') });
    } finally {
      await telnyxApi.close();
    }
    const gone = new TelnyxTelephonyAdapter(settings(`http://127.0.0.1:${await freePort()}`));
    await expect(gone.unregisterNumber(TENANT_A, NUMBER_A, '+14155550100')).rejects.toMatchObject({ reason: 'unreachable' });
  });

  it('needs a database for onInboundCall only', async () => {
    const adapter = new TelnyxTelephonyAdapter(settings('http://127.0.0.1:1'));
    expect(() => adapter.onInboundCall(inboundCall(DID_A))).toThrow(/needs a database/);
    await expect(
      new TelnyxTelephonyAdapter(settings('http://127.0.0.1:1'), untouchableDb()).onInboundCall(inboundCall(DID_A)),
    ).rejects.toThrow(/database was touched/);
  });
});
