// POST /webhooks/twilio/status: Twilio's status callbacks move a call through its lifecycle,
// only ever forward, whatever order they arrive in and however often.
import { describe, expect, it } from 'vitest';
import { createAiProfile, createPhoneNumber, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { OTHER_TWILIO_AUTH_TOKEN } from './support/constants.ts';
import { randomCallSid, sendStatus, sendVoice, statusParams, voiceParams } from './support/twilio.ts';

/** A Twilio call routed through the voice webhook: its CallSid and dialled number, and its record. */
async function routedCall() {
  const tenant = await createTenant();
  const number = await createPhoneNumber(tenant.id, { provider_type: 'twilio' });
  await createAiProfile(tenant.id, { is_default: true });
  const params = voiceParams(number.did_number);
  await sendVoice(params);
  const call = { CallSid: params.CallSid as string, To: number.did_number };
  return { ...call, id: (await row(call)).id as string };
}

async function row(call: { CallSid: string }) {
  const { rows } = await sql(
    'select id, status, answered_at, ended_at, duration_seconds, hangup_cause from calls where external_call_id = $1',
    [call.CallSid],
  );
  return rows[0];
}

describe('POST /webhooks/twilio/status', () => {
  it('moves a call to ringing, then answered (answered_at set), then ended with CallDuration as its talk time', async () => {
    const call = await routedCall();
    expect((await row(call)).status).toBe('initiated');

    const ringing = await sendStatus(statusParams(call, 'ringing'));
    expect(ringing.body).toEqual({ status: 'success', call_record_id: call.id, call_status: 'ringing' });

    const answered = await sendStatus(statusParams(call, 'in-progress'));
    expect(answered.body).toEqual({ status: 'success', call_record_id: call.id, call_status: 'answered' });
    expect((await row(call)).answered_at).not.toBeNull();

    const endedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const completed = await sendStatus(statusParams(call, 'completed', { CallDuration: '42', Timestamp: endedAt.toUTCString() }));
    expect(completed.body).toEqual({ status: 'success', call_record_id: call.id, call_status: 'ended' });
    const ended = await row(call);
    expect(ended).toMatchObject({ status: 'ended', duration_seconds: 42, hangup_cause: 16 });
    expect(ended.ended_at.toISOString()).toBe(endedAt.toISOString());
  });

  it('records a completed call with no talk time as ended, not failed', async () => {
    const call = await routedCall();
    await sendStatus(statusParams(call, 'completed', { CallDuration: '0' }));
    expect(await row(call)).toMatchObject({ status: 'ended', duration_seconds: 0 });
  });

  it.each([
    ['busy', 17],
    ['no-answer', 19],
    ['failed', 41],
    ['canceled', 31],
  ])('records %s as failed, with no talk time (cause %i)', async (status, cause) => {
    const call = await routedCall();
    const response = await sendStatus(statusParams(call, status));
    expect(response.body).toEqual({ status: 'success', call_record_id: call.id, call_status: 'failed' });
    expect(await row(call)).toMatchObject({ status: 'failed', duration_seconds: 0, hangup_cause: cause, answered_at: null });
  });

  it.each(['queued', 'initiated', 'something-new'])('changes nothing for %s', async (status) => {
    const call = await routedCall();
    const before = await row(call);
    const response = await sendStatus(statusParams(call, status));
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('ignored');
    expect(await row(call)).toEqual(before);
  });

  it('never moves a call backwards: answered before ringing, and callbacks after the end', async () => {
    const call = await routedCall();
    await sendStatus(statusParams(call, 'in-progress'));
    const answeredAt = (await row(call)).answered_at;
    const late = await sendStatus(statusParams(call, 'ringing'));
    expect(late.body.call_status).toBe('answered');
    // A repeated answered keeps the first answered_at.
    await sendStatus(statusParams(call, 'in-progress'));
    expect((await row(call)).answered_at).toEqual(answeredAt);

    await sendStatus(statusParams(call, 'completed', { CallDuration: '30' }));
    const ended = await row(call);
    for (const status of ['ringing', 'in-progress', 'busy', 'completed']) {
      const response = await sendStatus(statusParams(call, status, { CallDuration: '99' }));
      expect(response.body.call_status).toBe('ended');
    }
    expect(await row(call)).toEqual(ended);
  });

  it('keeps the first end when two ends arrive (failed, then completed)', async () => {
    const call = await routedCall();
    await sendStatus(statusParams(call, 'no-answer'));
    const response = await sendStatus(statusParams(call, 'completed', { CallDuration: '12' }));
    expect(response.body.call_status).toBe('failed');
    expect(await row(call)).toMatchObject({ status: 'failed', duration_seconds: 0 });
  });

  it('answers unknown_call for a CallSid it never routed, or another number', async () => {
    const call = await routedCall();
    const unknown = await sendStatus(statusParams({ CallSid: randomCallSid(), To: call.To }, 'completed'));
    expect(unknown.body).toMatchObject({ status: 'error', code: 'unknown_call' });
    const elsewhere = await sendStatus(statusParams({ CallSid: call.CallSid, To: randomDid() }, 'completed'));
    expect(elsewhere.body).toMatchObject({ status: 'error', code: 'unknown_call' });
    expect((await row(call)).status).toBe('initiated');
  });

  it('answers 401 to an unsigned or wrongly signed callback and changes nothing', async () => {
    const call = await routedCall();
    for (const token of [null, OTHER_TWILIO_AUTH_TOKEN]) {
      expectProblem(await sendStatus(statusParams(call, 'completed', { CallDuration: '5' }), { token }), 401, 'invalid_signature');
    }
    const params = statusParams(call, 'in-progress');
    expectProblem(await sendStatus({ ...params, CallStatus: 'completed' }, { signedParams: params }), 401, 'invalid_signature');
    expect((await row(call)).status).toBe('initiated');
  });

  it('finds the call after its number was deactivated', async () => {
    const call = await routedCall();
    const { rows } = await sql('select tenant_id, phone_number_id from calls where id = $1', [call.id]);
    await sql('update phone_numbers set is_active = false where id = $1', [rows[0].phone_number_id]);
    const response = await sendStatus(statusParams(call, 'completed', { CallDuration: '7' }));
    expect(response.body).toMatchObject({ status: 'success', call_status: 'ended' });
  });
});
