import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { REMOVED_SIGNING_SECRET } from './support/constants.ts';
import { callEndedPayload, sendCallEnded, sendInbound, signedPost } from './support/telephony.ts';
import { findLogEntry } from './support/worker-log.ts';

async function acceptedCall(callId = `${Date.now()}.${randomUUID().slice(0, 6)}`, tenantId?: string) {
  const tenant = tenantId ? { id: tenantId } : await createTenant();
  const number = await createPhoneNumber(tenant.id);
  await createAiProfile(tenant.id, { is_default: true });
  const answer = await sendInbound(number.did_number, { call_id: callId });
  expect(answer.body.status).toBe('success');
  return { tenant, number, callId, callRecordId: answer.body.call_record_id as string };
}

const event = callEndedPayload;

function sendBatch(events: unknown[], options?: Parameters<typeof signedPost>[2]) {
  return signedPost('/internal/telephony/call-ended/batch', { events }, options);
}

async function statuses(ids: string[]) {
  const { rows } = await sql('select id, status from calls where id = any($1::uuid[])', [ids]);
  return Object.fromEntries(rows.map((row) => [row.id, row.status]));
}

describe('POST /internal/telephony/call-ended/batch', () => {
  it('ends every call of the batch in one request and answers each, in order', async () => {
    const tenant = await createTenant();
    const [one, two, three] = [
      await acceptedCall(undefined, tenant.id),
      await acceptedCall(undefined, tenant.id),
      await acceptedCall(undefined, tenant.id),
    ];
    const endedAt = Math.floor(Date.now() / 1000);
    const response = await sendBatch([
      event(one.callId, one.number.did_number, { ended_at: String(endedAt), duration_seconds: '95' }),
      event(two.callId, two.number.did_number, { duration_seconds: '0', hangup_cause: '17' }),
      event(three.callId, `0${three.number.did_number.slice(3)}`),
    ]);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      results: [
        { status: 'success', call_record_id: one.callRecordId, call_status: 'ended' },
        { status: 'success', call_record_id: two.callRecordId, call_status: 'failed' },
        { status: 'success', call_record_id: three.callRecordId, call_status: 'ended' },
      ],
    });
    const { rows } = await sql('select * from calls where id = $1', [one.callRecordId]);
    expect(rows[0]).toMatchObject({ status: 'ended', duration_seconds: 95, hangup_cause: 16 });
    expect(rows[0].ended_at.getTime()).toBe(endedAt * 1000);
    expect(rows[0].answered_at.getTime()).toBe((endedAt - 95) * 1000);
    const list = await api('GET', `/api/tenants/${tenant.id}/calls?status=failed`);
    expect(list.body.data.map((call: { id: string }) => call.id)).toEqual([two.callRecordId]);
  });

  it('answers exactly what /call-ended answers for each event, unknown calls and repeats included', async () => {
    const a = await acceptedCall();
    const b = await acceptedCall();
    const first = await sendCallEnded(a.callId, a.number.did_number, { duration_seconds: 30 });
    const response = await sendBatch([
      event(`never.${randomUUID()}`, a.number.did_number),
      event(a.callId, a.number.did_number, { duration_seconds: '0', hangup_cause: '17' }),
      event(b.callId, 'not a number'),
      event(`never.${randomUUID()}`, randomDid()),
      event(b.callId, b.number.did_number),
    ]);
    const unknown = { status: 'error', code: 'unknown_call', message: 'No call with that id was recorded for the dialled number.' };
    expect(response.body.results).toEqual([
      unknown,
      first.body,
      unknown,
      unknown,
      { status: 'success', call_record_id: b.callRecordId, call_status: 'ended' },
    ]);
    expect(await statuses([a.callRecordId, b.callRecordId])).toEqual({ [a.callRecordId]: 'ended', [b.callRecordId]: 'ended' });
  });

  it('lets the earlier of two events for the same call win, and answers both the same', async () => {
    const { number, callId, callRecordId } = await acceptedCall();
    const response = await sendBatch([
      event(callId, number.did_number, { duration_seconds: '0', hangup_cause: '21' }),
      event(callId, number.did_number, { duration_seconds: '60', hangup_cause: '16' }),
    ]);
    const failed = { status: 'success', call_record_id: callRecordId, call_status: 'failed' };
    expect(response.body.results).toEqual([failed, failed]);
    const { rows } = await sql('select status, duration_seconds, hangup_cause from calls where id = $1', [callRecordId]);
    expect(rows[0]).toEqual({ status: 'failed', duration_seconds: 0, hangup_cause: 21 });
  });

  it('ends only the dialled number’s tenant’s call, never another tenant’s call with the same id', async () => {
    const callId = `shared.${randomUUID()}`;
    const a = await acceptedCall(callId);
    const b = await acceptedCall(callId);
    const response = await sendBatch([event(callId, a.number.did_number)]);
    expect(response.body.results).toEqual([{ status: 'success', call_record_id: a.callRecordId, call_status: 'ended' }]);
    expect(await statuses([a.callRecordId, b.callRecordId])).toEqual({ [a.callRecordId]: 'ended', [b.callRecordId]: 'initiated' });
  });

  it('ends 100 calls, the most a batch takes', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const ids = Array.from({ length: 100 }, (_, i) => `batch.${i}.${randomUUID()}`);
    const records = [];
    for (const id of ids) records.push((await sendInbound(number.did_number, { call_id: id })).body.call_record_id as string);
    const response = await sendBatch(ids.map((id) => event(id, number.did_number)));
    expect(response.body.results.map((result: { call_record_id: string }) => result.call_record_id)).toEqual(records);
    expect(Object.values(await statuses(records))).toEqual(records.map(() => 'ended'));
  });

  it('two batches ending the same calls at once, in opposite orders, neither deadlock nor disagree', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const ids = Array.from({ length: 20 }, (_, i) => `race.${i}.${randomUUID()}`);
    for (const id of ids) await sendInbound(number.did_number, { call_id: id });
    const forward = ids.map((id) => event(id, number.did_number, { duration_seconds: '0', hangup_cause: '17' }));
    const backward = ids.map((id) => event(id, number.did_number, { duration_seconds: '10' })).reverse();
    const [a, b] = await Promise.all([sendBatch(forward), sendBatch(backward)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    // Each call has one end, whichever batch got there first, and both batches report that one.
    expect(b.body.results.toReversed()).toEqual(a.body.results);
  });

  it.each([
    ['no events', () => [], 'events'],
    ['101 events', (did: string) => Array.from({ length: 101 }, (_, i) => event(`c.${i}`, did)), 'events'],
    [
      'one invalid event among valid ones',
      (did: string, callId: string) => [event(callId, did), event('x', did, { duration_seconds: -1 })],
      'events.1.duration_seconds',
    ],
    ['an unknown field', (did: string, callId: string) => [event(callId, did, { billsec: 10 })], 'events.0.billsec'],
  ])('refuses %s with 400 as a whole, and changes nothing', async (_name, events, path) => {
    const { number, callId, callRecordId } = await acceptedCall();
    const response = await sendBatch(events(number.did_number, callId));
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors?.map((error) => error.path)).toContain(path);
    expect(await statuses([callRecordId])).toEqual({ [callRecordId]: 'initiated' });
  });

  it('answers 401 to an unsigned or wrongly signed batch, and changes nothing', async () => {
    const { number, callId, callRecordId } = await acceptedCall();
    expectProblem(await sendBatch([event(callId, number.did_number)], { secret: REMOVED_SIGNING_SECRET }), 401, 'invalid_signature');
    const unsigned = await api('POST', '/internal/telephony/call-ended/batch', {
      token: null,
      body: { events: [event(callId, number.did_number)] },
    });
    expectProblem(unsigned, 401, 'invalid_signature');
    expect(unsigned.headers.get('cache-control')).toBe('no-store');
    expect(await statuses([callRecordId])).toEqual({ [callRecordId]: 'initiated' });
  });

  it('logs a badly signed batch as a call-ended request, not as an inbound call', async () => {
    const webhookId = `msg_${randomUUID()}`;
    const { number, callId } = await acceptedCall();
    await sendBatch([event(callId, number.did_number)], { secret: REMOVED_SIGNING_SECRET, id: webhookId });
    const { entry } = await findLogEntry((e) => e.webhook_id === webhookId && e.level === 'warn');
    expect(entry?.msg).toBe('[CALL ENDED] rejected: invalid signature');
  });
});
