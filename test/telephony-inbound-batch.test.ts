// POST /internal/telephony/inbound/batch: the calls the bridge routed from its copy of the routes,
// recorded behind its answer with the ids it gave Asterisk.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { INBOUND_BATCH_MAX } from '../contract/ingest.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { REMOVED_SIGNING_SECRET } from './support/constants.ts';
import { sendCallEnded, signedPost } from './support/telephony.ts';

const BATCH = '/internal/telephony/inbound/batch';

interface Routed {
  tenant: { id: string };
  number: { id: string; did_number: string };
  profile: { id: string };
}

async function routedTenant(): Promise<Routed> {
  const tenant = await createTenant();
  const number = await createPhoneNumber(tenant.id);
  const profile = await createAiProfile(tenant.id, { name: 'Desk', role: 'support', is_default: true });
  return { tenant, number, profile };
}

/** A call as the bridge routed it to `routed`. */
function routedCall(routed: Routed, fields: Record<string, unknown> = {}) {
  return {
    caller_number: '+14155550123',
    called_number: routed.number.did_number,
    call_id: `${Math.floor(Date.now() / 1000)}.${randomUUID().slice(0, 8)}`,
    timestamp: '1790000000',
    call_record_id: randomUUID(),
    tenant_id: routed.tenant.id,
    phone_number_id: routed.number.id,
    ai_profile_id: routed.profile.id,
    ...fields,
  };
}

const record = (...events: unknown[]) => signedPost(BATCH, { events });

async function callRow(tenantId: string, callId: string) {
  const { rows } = await sql('select * from calls where tenant_id = $1 and external_call_id = $2', [tenantId, callId]);
  return rows;
}

describe('POST /internal/telephony/inbound/batch', () => {
  let routed: Routed;
  beforeAll(async () => {
    routed = await routedTenant();
  });

  it('records each call with the bridge’s id, under the number, tenant and profile it was routed to', async () => {
    const calls = [routedCall(routed), routedCall(routed, { caller_number: '', timestamp: 1790000000.5, ai_profile_id: null })];
    const response = await record(...calls);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      results: calls.map((call) => ({ status: 'success', call_record_id: call.call_record_id, replayed: false })),
    });
    const [first] = await callRow(routed.tenant.id, calls[0]?.call_id as string);
    expect(first).toMatchObject({
      id: calls[0]?.call_record_id,
      phone_number_id: routed.number.id,
      ai_profile_id: routed.profile.id,
      direction: 'inbound',
      status: 'initiated',
      caller_number: '+14155550123',
      called_number: routed.number.did_number,
    });
    expect(first.started_at.getTime()).toBe(1_790_000_000_000);
    const [second] = await callRow(routed.tenant.id, calls[1]?.call_id as string);
    expect(second).toMatchObject({ id: calls[1]?.call_record_id, ai_profile_id: null, caller_number: null });
    expect(second.started_at.getTime()).toBe(1_790_000_000_500);
    // The operator sees it, and its end finds it.
    expect((await api('GET', `/api/tenants/${routed.tenant.id}/calls/${calls[0]?.call_record_id}`)).body.status).toBe('initiated');
    const ended = await sendCallEnded(calls[0]?.call_id as string, routed.number.did_number);
    expect(ended.body).toEqual({ status: 'success', call_record_id: calls[0]?.call_record_id, call_status: 'ended' });
  });

  it('reads the dialled number in national format, as the bridge received it', async () => {
    const call = routedCall(routed, { called_number: `0${routed.number.did_number.slice(3)}` });
    expect((await record(call)).body.results[0]).toMatchObject({ status: 'success', call_record_id: call.call_record_id });
    const [row] = await callRow(routed.tenant.id, call.call_id);
    expect(row.called_number).toBe(routed.number.did_number);
  });

  it('answers a replay, and the same call twice in one batch, with the id the call was first recorded with', async () => {
    const call = routedCall(routed);
    const again = { ...call, call_record_id: randomUUID() };
    const response = await record(call, again);
    expect(response.body.results).toEqual([
      { status: 'success', call_record_id: call.call_record_id, replayed: false },
      { status: 'success', call_record_id: call.call_record_id, replayed: true },
    ]);
    const replay = await record(call);
    expect(replay.body.results).toEqual([{ status: 'success', call_record_id: call.call_record_id, replayed: true }]);
    expect(await callRow(routed.tenant.id, call.call_id)).toHaveLength(1);
  });

  it('answers a call first recorded by /inbound with that call’s id', async () => {
    const call = routedCall(routed);
    const direct = await signedPost('/internal/telephony/inbound', {
      caller_number: call.caller_number,
      called_number: call.called_number,
      call_id: call.call_id,
      timestamp: call.timestamp,
    });
    expect(direct.body.status).toBe('success');
    expect((await record(call)).body.results).toEqual([{ status: 'success', call_record_id: direct.body.call_record_id, replayed: true }]);
  });

  it('records a call whose number or tenant was deactivated after the bridge routed it', async () => {
    const other = await routedTenant();
    await api('PATCH', `/api/tenants/${other.tenant.id}/phone-numbers/${other.number.id}`, { body: { is_active: false } });
    await api('PATCH', `/api/tenants/${other.tenant.id}`, { body: { status: 'suspended' } });
    const call = routedCall(other);
    expect((await record(call)).body.results[0]).toMatchObject({ status: 'success', call_record_id: call.call_record_id });
    expect(await callRow(other.tenant.id, call.call_id)).toHaveLength(1);
  });

  it('refuses, event by event, a route the database no longer agrees with, and records the rest', async () => {
    const other = await routedTenant();
    const good = routedCall(routed);
    const wrongTenant = routedCall(routed, { tenant_id: other.tenant.id });
    const wrongNumber = routedCall(routed, { phone_number_id: other.number.id });
    const unknown = routedCall(routed, { called_number: randomDid() });
    const notANumber = routedCall(routed, { called_number: 'sip:abc' });
    const response = await record(good, wrongTenant, wrongNumber, unknown, notANumber);
    expect(response.status).toBe(200);
    expect(response.body.results).toEqual([
      { status: 'success', call_record_id: good.call_record_id, replayed: false },
      { status: 'error', code: 'route_mismatch', message: expect.any(String) },
      { status: 'error', code: 'route_mismatch', message: expect.any(String) },
      { status: 'error', code: 'unknown_did', message: expect.any(String) },
      { status: 'error', code: 'unknown_did', message: expect.any(String) },
    ]);
    const { rows } = await sql('select id from calls where id = any($1)', [
      [wrongTenant, wrongNumber, unknown, notANumber].map((call) => call.call_record_id),
    ]);
    expect(rows).toEqual([]);
  });

  it('keeps no AI profile the tenant does not own', async () => {
    const other = await routedTenant();
    const call = routedCall(routed, { ai_profile_id: other.profile.id });
    expect((await record(call)).body.results[0].status).toBe('success');
    const [row] = await callRow(routed.tenant.id, call.call_id);
    expect(row.ai_profile_id).toBeNull();
  });

  it('records 100 calls in one request', async () => {
    const calls = Array.from({ length: INBOUND_BATCH_MAX }, () => routedCall(routed));
    const response = await record(...calls);
    expect(response.body.results.map((r: { call_record_id: string }) => r.call_record_id)).toEqual(calls.map((c) => c.call_record_id));
    const { rows } = await sql('select count(*)::int as n from calls where id = any($1)', [calls.map((c) => c.call_record_id)]);
    expect(rows[0].n).toBe(INBOUND_BATCH_MAX);
  });

  it.each([
    ['no events', { events: [] }],
    ['101 events', { events: Array.from({ length: INBOUND_BATCH_MAX + 1 }, () => ({})) }],
    [
      'an event without its call record id',
      {
        events: [
          {
            ...routedCall({
              tenant: { id: randomUUID() },
              number: { id: randomUUID(), did_number: '+919812345678' },
              profile: { id: randomUUID() },
            }),
            call_record_id: undefined,
          },
        ],
      },
    ],
    [
      'an event with an unknown field',
      {
        events: [
          {
            ...routedCall({
              tenant: { id: randomUUID() },
              number: { id: randomUUID(), did_number: '+919812345678' },
              profile: { id: randomUUID() },
            }),
            channel: 'x',
          },
        ],
      },
    ],
    [
      'a call record id that is not a UUID',
      {
        events: [
          {
            ...routedCall({
              tenant: { id: randomUUID() },
              number: { id: randomUUID(), did_number: '+919812345678' },
              profile: { id: randomUUID() },
            }),
            call_record_id: 'nope',
          },
        ],
      },
    ],
  ])('refuses %s with 400 and records nothing', async (_name, body) => {
    expectProblem(await signedPost(BATCH, body), 400, 'validation_failed');
  });

  it('is refused without a valid signature', async () => {
    const call = routedCall(routed);
    expectProblem(await signedPost(BATCH, { events: [call] }, { secret: REMOVED_SIGNING_SECRET }), 401, 'invalid_signature');
    expect(await callRow(routed.tenant.id, call.call_id)).toHaveLength(0);
  });
});
