// The telephony adapter layer as plain objects, without the Worker. TataTelephonyAdapter's
// database path (onInboundCall with a real number) is covered through the HTTP ingest.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { normalizeDid } from '../contract/phone.ts';
import type { Database } from '../worker/lib/db.ts';
import { type InboundCall, ManualProvisioningError, type TelephonyAdapter } from '../worker/telephony/adapter.ts';
import { FakeTelephonyAdapter } from '../worker/telephony/fake.ts';
import { TataTelephonyAdapter } from '../worker/telephony/tata.ts';

const TENANT_A = '0b9c5f5e-3d43-4a43-9a8e-6f1f3c1b2a10';
const TENANT_B = '5d0c7a1e-8f2b-4c6d-9e3a-1b2c3d4e5f60';
const NUMBER_A = '1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9';
const NUMBER_B = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const DID_A = '+919876543210';
const DID_B = '+919812345678';

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

afterEach(() => {
  vi.restoreAllMocks();
});

describe('FakeTelephonyAdapter', () => {
  it('is a TelephonyAdapter that records every operation in order and touches nothing real', async () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const adapter: TelephonyAdapter = new FakeTelephonyAdapter();
    const fake = adapter as FakeTelephonyAdapter;

    const registration = await adapter.registerNumber(TENANT_A, NUMBER_A, DID_A);
    await adapter.onInboundCall(inboundCall(DID_A, { call_id: 'call-1' }));
    await adapter.unregisterNumber(TENANT_A, NUMBER_A, DID_A);

    expect(registration).toEqual({ tenant_id: TENANT_A, phone_number_id: NUMBER_A, did_number: DID_A, provider: 'fake', details: {} });
    expect(fake.operations).toEqual([
      `registerNumber ${TENANT_A} ${DID_A}`,
      `onInboundCall ${DID_A} call-1`,
      `unregisterNumber ${TENANT_A} ${DID_A}`,
    ]);
    expect(fake.calls).toEqual([inboundCall(DID_A, { call_id: 'call-1' })]);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('keeps what it registered until it is unregistered', async () => {
    const adapter = new FakeTelephonyAdapter();
    await adapter.registerNumber(TENANT_A, NUMBER_A, DID_A);
    await adapter.registerNumber(TENANT_B, NUMBER_B, DID_B);
    expect([...adapter.registered.keys()].sort()).toEqual([DID_A, DID_B].sort());
    expect(adapter.registered.get(DID_B)).toMatchObject({ tenant_id: TENANT_B, phone_number_id: NUMBER_B, provider: 'fake' });

    await adapter.unregisterNumber(TENANT_A, NUMBER_A, DID_A);
    expect([...adapter.registered.keys()]).toEqual([DID_B]);
  });

  it('answers an inbound call to a registered DID with INITIATED for the owning tenant and number', async () => {
    const adapter = new FakeTelephonyAdapter();
    await adapter.registerNumber(TENANT_A, NUMBER_A, DID_A);
    const call = inboundCall(DID_A);

    const event = await adapter.onInboundCall(call);

    expect(event.event_type).toBe('INITIATED');
    expect(event.metadata).toEqual({
      tenant_id: TENANT_A,
      phone_number_id: NUMBER_A,
      caller_number: call.caller_number,
      called_number: DID_A,
      direction: 'inbound',
      timestamp: call.timestamp,
      call_id: call.call_id,
    });
    expect(event.timestamp).toBeGreaterThan(Date.parse('2026-01-01T00:00:00Z') / 1000);
    expect(event.details).toEqual({ call_record_id: expect.any(String), ai_profile: null });
  });

  it('routes the DIDs it was constructed with', async () => {
    const adapter = new FakeTelephonyAdapter({ [DID_B]: { tenant_id: TENANT_B, phone_number_id: NUMBER_B } });
    const event = await adapter.onInboundCall(inboundCall(DID_B));
    expect(event.event_type).toBe('INITIATED');
    expect(event.metadata).toMatchObject({ tenant_id: TENANT_B, phone_number_id: NUMBER_B });
  });

  it('answers an inbound call to an unknown DID with FAILED unknown_did and no tenant', async () => {
    const adapter = new FakeTelephonyAdapter({ [DID_A]: { tenant_id: TENANT_A, phone_number_id: NUMBER_A } });
    const call = inboundCall(DID_B, { caller_number: null });

    const event = await adapter.onInboundCall(call);

    expect(event.event_type).toBe('FAILED');
    expect(event.details).toEqual({ code: 'unknown_did' });
    expect(event.metadata).toEqual({
      tenant_id: null,
      phone_number_id: null,
      caller_number: null,
      called_number: DID_B,
      direction: 'inbound',
      timestamp: call.timestamp,
      call_id: call.call_id,
    });
    // Still recorded: the fake remembers what it was asked, whatever the answer.
    expect(adapter.calls).toEqual([call]);
  });

  it('stops routing a DID once its tenant unregisters it', async () => {
    const adapter = new FakeTelephonyAdapter();
    await adapter.registerNumber(TENANT_A, NUMBER_A, DID_A);
    await adapter.unregisterNumber(TENANT_A, NUMBER_A, DID_A);

    const event = await adapter.onInboundCall(inboundCall(DID_A));
    expect(event).toMatchObject({ event_type: 'FAILED', details: { code: 'unknown_did' } });
    expect(adapter.registered.has(DID_A)).toBe(false);
  });

  it("does not let one tenant unregister another tenant's number: the route stays", async () => {
    const adapter = new FakeTelephonyAdapter();
    await adapter.registerNumber(TENANT_A, NUMBER_A, DID_A);

    await adapter.unregisterNumber(TENANT_B, NUMBER_B, DID_A);

    expect(adapter.registered.get(DID_A)).toMatchObject({ tenant_id: TENANT_A, phone_number_id: NUMBER_A });
    const event = await adapter.onInboundCall(inboundCall(DID_A));
    expect(event.event_type).toBe('INITIATED');
    expect(event.metadata).toMatchObject({ tenant_id: TENANT_A, phone_number_id: NUMBER_A });
    // The attempt is still on record.
    expect(adapter.operations).toContain(`unregisterNumber ${TENANT_B} ${DID_A}`);
  });

  it("does not let one tenant unregister another tenant's number given at construction", async () => {
    const adapter = new FakeTelephonyAdapter({ [DID_A]: { tenant_id: TENANT_A, phone_number_id: NUMBER_A } });
    await adapter.unregisterNumber(TENANT_B, NUMBER_B, DID_A);
    const event = await adapter.onInboundCall(inboundCall(DID_A));
    expect(event.event_type).toBe('INITIATED');
    expect(event.metadata.tenant_id).toBe(TENANT_A);
  });
});

describe('TataTelephonyAdapter', () => {
  it.each([
    ['registerNumber', (adapter: TataTelephonyAdapter) => adapter.registerNumber(TENANT_A, NUMBER_A, DID_A)],
    ['unregisterNumber', (adapter: TataTelephonyAdapter) => adapter.unregisterNumber(TENANT_A, NUMBER_A, DID_A)],
  ] as const)('%s fails explicitly with a ManualProvisioningError instead of pretending', async (operation, run) => {
    const adapter = new TataTelephonyAdapter(untouchableDb());

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
      const adapter = new TataTelephonyAdapter(untouchableDb());
      const call = inboundCall(calledNumber);

      const event = await adapter.onInboundCall(call);

      expect(event.event_type).toBe('FAILED');
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
      const adapter = new TataTelephonyAdapter(untouchableDb());
      await expect(adapter.onInboundCall(inboundCall(calledNumber))).rejects.toThrow(/database was touched/);
    }
  });
});
