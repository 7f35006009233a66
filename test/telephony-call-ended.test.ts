import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { REMOVED_SIGNING_SECRET } from './support/constants.ts';
import { sendCallEnded, sendInbound, signedPost } from './support/telephony.ts';

async function acceptedCall(callId = `${Date.now()}.${randomUUID().slice(0, 6)}`) {
  const tenant = await createTenant();
  const number = await createPhoneNumber(tenant.id);
  await createAiProfile(tenant.id, { is_default: true });
  const answer = await sendInbound(number.did_number, { call_id: callId });
  expect(answer.body.status).toBe('success');
  return { tenant, number, callId, callRecordId: answer.body.call_record_id as string };
}

async function callRow(id: string) {
  const { rows } = await sql('select * from calls where id = $1', [id]);
  return rows[0];
}

describe('POST /internal/telephony/call-ended', () => {
  it('ends the call with its talk time, hangup cause and end time, visible in the call list', async () => {
    const { tenant, number, callId, callRecordId } = await acceptedCall();
    const endedAt = Math.floor(Date.now() / 1000);
    const response = await sendCallEnded(callId, number.did_number, {
      ended_at: String(endedAt),
      duration_seconds: '95',
      hangup_cause: '16',
    });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'success', call_record_id: callRecordId, call_status: 'ended' });

    const row = await callRow(callRecordId);
    expect(row).toMatchObject({ status: 'ended', duration_seconds: 95, hangup_cause: 16 });
    expect(row.ended_at.getTime()).toBe(endedAt * 1000);
    expect(row.answered_at.getTime()).toBe((endedAt - 95) * 1000);

    const list = await api('GET', `/api/tenants/${tenant.id}/calls?status=ended`);
    expect(list.body.data.map((call: { id: string }) => call.id)).toEqual([callRecordId]);
    expect(list.body.data[0]).toMatchObject({
      status: 'ended',
      duration_seconds: 95,
      hangup_cause: 16,
      ended_at: new Date(endedAt * 1000).toISOString(),
    });
  });

  it.each([
    ['no talk time and cause 17 (busy)', 0, 17, 'failed'],
    ['no talk time and cause 21 (rejected)', 0, 21, 'failed'],
    ['no talk time and normal clearing (16)', 0, 16, 'ended'],
    ['no talk time and cause 0 (caller hung up during Wait)', 0, 0, 'ended'],
    ['talk time and an abnormal cause', 12, 38, 'ended'],
  ])('with %s the call is %s', async (_name, duration, cause, status) => {
    const { number, callId, callRecordId } = await acceptedCall();
    const response = await sendCallEnded(callId, number.did_number, { duration_seconds: duration, hangup_cause: cause });
    expect(response.body).toMatchObject({ status: 'success', call_status: status });
    expect((await callRow(callRecordId)).status).toBe(status);
  });

  it('takes the national-format DID as Asterisk reports it', async () => {
    const { number, callId, callRecordId } = await acceptedCall();
    const response = await sendCallEnded(callId, `0${number.did_number.slice(3)}`);
    expect(response.body).toMatchObject({ status: 'success', call_record_id: callRecordId });
  });

  it('lets the first end win: a repeat changes nothing and answers the same', async () => {
    const { number, callId, callRecordId } = await acceptedCall();
    const first = await sendCallEnded(callId, number.did_number, { duration_seconds: 30, hangup_cause: 16 });
    const before = await callRow(callRecordId);
    const again = await sendCallEnded(callId, number.did_number, {
      duration_seconds: 0,
      hangup_cause: 17,
      ended_at: String(Math.floor(Date.now() / 1000) + 60),
    });
    expect(again.body).toEqual(first.body);
    expect(await callRow(callRecordId)).toEqual(before);
  });

  it('ends only the call of the dialled number’s tenant, not another tenant’s call with the same id', async () => {
    const callId = `shared.${randomUUID()}`;
    const a = await acceptedCall(callId);
    const b = await acceptedCall(callId);
    const response = await sendCallEnded(callId, a.number.did_number);
    expect(response.body.call_record_id).toBe(a.callRecordId);
    expect((await callRow(a.callRecordId)).status).toBe('ended');
    const untouched = await callRow(b.callRecordId);
    expect(untouched).toMatchObject({ status: 'initiated', ended_at: null, duration_seconds: null });
  });

  it('still ends a call after its number and tenant were deactivated', async () => {
    const { tenant, number, callId, callRecordId } = await acceptedCall();
    await api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${number.id}`, { body: { is_active: false } });
    await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'suspended' } });
    const response = await sendCallEnded(callId, number.did_number);
    expect(response.body).toMatchObject({ status: 'success', call_record_id: callRecordId, call_status: 'ended' });
  });

  it('answers unknown_call for a call that was never recorded, and changes nothing', async () => {
    const { number } = await acceptedCall();
    const { rows: before } = await sql('select id, status from calls where called_number = $1 order by id', [number.did_number]);
    const unknownId = await sendCallEnded(`never.${randomUUID()}`, number.did_number);
    expect(unknownId.body).toEqual({ status: 'error', code: 'unknown_call', message: expect.any(String) });
    const unknownNumber = await sendCallEnded(`never.${randomUUID()}`, randomDid());
    expect(unknownNumber.body).toMatchObject({ status: 'error', code: 'unknown_call' });
    const { rows: after } = await sql('select id, status from calls where called_number = $1 order by id', [number.did_number]);
    expect(after).toEqual(before);
  });

  it('answers unknown_call when the call id belongs to another tenant’s number', async () => {
    const a = await acceptedCall();
    const other = await createTenant();
    const otherNumber = await createPhoneNumber(other.id);
    const response = await sendCallEnded(a.callId, otherNumber.did_number);
    expect(response.body).toMatchObject({ status: 'error', code: 'unknown_call' });
    expect((await callRow(a.callRecordId)).status).toBe('initiated');
  });

  it.each([
    ['a negative duration', { duration_seconds: -1 }, 'duration_seconds'],
    ['a fractional duration', { duration_seconds: '1.5' }, 'duration_seconds'],
    ['a hangup cause that is not a number', { hangup_cause: 'NORMAL_CLEARING' }, 'hangup_cause'],
    ['a missing ended_at', { ended_at: undefined }, 'ended_at'],
    ['an unknown field', { billsec: 10 }, 'billsec'],
  ])('answers 400 for %s and changes nothing', async (_name, change, path) => {
    const { number, callId, callRecordId } = await acceptedCall();
    const response = await sendCallEnded(callId, number.did_number, change);
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors?.map((error) => error.path)).toContain(path);
    expect((await callRow(callRecordId)).status).toBe('initiated');
  });

  it('answers 401 to an unsigned or wrongly signed request, and changes nothing', async () => {
    const { number, callId, callRecordId } = await acceptedCall();
    const wrongSecret = await sendCallEnded(callId, number.did_number, {}, { secret: REMOVED_SIGNING_SECRET });
    expectProblem(wrongSecret, 401, 'invalid_signature');
    const unsigned = await api('POST', '/internal/telephony/call-ended', {
      token: null,
      body: { call_id: callId, called_number: number.did_number, ended_at: '1', duration_seconds: 1, hangup_cause: 16 },
    });
    expectProblem(unsigned, 401, 'invalid_signature');
    const stale = await signedPost(
      '/internal/telephony/call-ended',
      { call_id: callId, called_number: number.did_number, ended_at: '1', duration_seconds: 1, hangup_cause: 16 },
      { timestamp: Math.floor(Date.now() / 1000) - 600 },
    );
    expectProblem(stale, 401, 'invalid_signature');
    expect((await callRow(callRecordId)).status).toBe('initiated');
  });
});
