// POST /webhooks/telnyx/call-control: Telnyx's Call Control events, signed with the suite's
// Ed25519 key pair as Telnyx signs them, drive a call — answered (with its media stream) or
// rejected by commands to Telnyx's API, then through its lifecycle — whatever order and however
// often they arrive. Telnyx's API is a local stand-in that records every command
// (test/support/telnyx-api.ts), behind a Worker of this file's own.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../tools/free-port.ts';
import { type RunningWorker, startWorker } from '../tools/miniflare-worker.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { workerBindings } from './support/bindings.ts';
import { OTHER_TELNYX_PRIVATE_KEY_PKCS8, PUBLIC_BASE_URL, TELNYX_API_KEY } from './support/constants.ts';
import { sendInbound } from './support/telephony.ts';
import { startTelnyxApi, type TelnyxApi } from './support/telnyx-api.ts';
import {
  callAnswered,
  callHangup,
  callInitiated,
  nowSeconds,
  sendTelnyxEvent,
  streamingFailed,
  TELNYX_WEBHOOK_PATH,
  type TelnyxCall,
  type TelnyxPostOptions,
  telnyxCall,
  telnyxEvent,
} from './support/telnyx-webhooks.ts';
import { readTwiml, sendVoice, voiceParams } from './support/twilio.ts';

let telnyxApi: TelnyxApi;
let worker: RunningWorker;

beforeAll(async () => {
  telnyxApi = await startTelnyxApi();
  worker = await startWorker(inject('workerScript'), workerBindings({ TELNYX_API_BASE_URL: telnyxApi.url }));
});
afterAll(async () => {
  await worker?.dispose();
  await telnyxApi?.close();
});
beforeEach(() => {
  telnyxApi.refuse = undefined;
  telnyxApi.hang = false;
});

const send = (event: unknown, options: TelnyxPostOptions = {}) => sendTelnyxEvent(event, { baseUrl: worker.url, ...options });

async function telnyxNumber(fields: Record<string, unknown> = {}) {
  const tenant = await createTenant();
  const number = await createPhoneNumber(tenant.id, { provider_type: 'telnyx', ...fields });
  const profile = await createAiProfile(tenant.id, { is_default: true });
  return { tenant, number, profile };
}

async function callRows(call: Pick<TelnyxCall, 'call_session_id'>) {
  const { rows } = await sql(
    'select id, tenant_id, phone_number_id, ai_profile_id, status, carrier, caller_number, called_number, external_call_id, answered_at, ended_at, duration_seconds, hangup_cause from calls where external_call_id = $1',
    [call.call_session_id],
  );
  return rows;
}

/** A call to a routed Telnyx number, answered by VCA: the call, its record id and tenant. */
async function routedCall() {
  const { tenant, number } = await telnyxNumber();
  const call = telnyxCall(number.did_number);
  const response = await send(callInitiated(call));
  expect(response.body.outcome, response.text).toBe('answered');
  return { call, tenant, number, id: response.body.call_record_id as string };
}

/** The call's media token as worker/telephony/telnyx-media.ts defines it, computed here with node:crypto. */
function mediaToken(tenantId: string, callRecordId: string, callControlId: string): string {
  const key = createHmac('sha256', TELNYX_API_KEY).update('vca telnyx media v2').digest();
  return createHmac('sha256', key).update(`${tenantId}|${callRecordId}|${callControlId}`).digest('base64url');
}

const commandsOf = (call: TelnyxCall) => telnyxApi.commands.filter((command) => command.callControlId === call.call_control_id);

describe('call.initiated for a routed number', () => {
  it('records the call and answers it with a bidirectional μ-law stream to its session, the call record id as client_state', async () => {
    const { tenant, number, profile } = await telnyxNumber();
    const call = telnyxCall(number.did_number, { from: '+14155550199' });
    const response = await send(callInitiated(call));

    expect(response.status).toBe(200);
    const rows = await callRows(call);
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row).toMatchObject({
      tenant_id: tenant.id,
      phone_number_id: number.id,
      ai_profile_id: profile.id,
      status: 'ringing',
      carrier: 'telnyx',
      caller_number: '+14155550199',
      called_number: number.did_number,
    });
    expect(response.body).toMatchObject({ outcome: 'answered', call_record_id: row.id, call_status: 'ringing' });

    const commands = commandsOf(call);
    expect(commands).toHaveLength(1);
    const prefix = `${PUBLIC_BASE_URL.replace(/^http/, 'ws')}/internal/media/telnyx/${tenant.id}/${row.id}/`;
    expect(commands[0]).toMatchObject({ action: 'answer', duplicate: false });
    expect(commands[0]?.body).toEqual({
      command_id: `vca-answer-${call.call_session_id}`,
      client_state: Buffer.from(row.id).toString('base64'),
      stream_url: `${prefix}${encodeURIComponent(call.call_control_id)}/${mediaToken(tenant.id, row.id, call.call_control_id)}`,
      stream_track: 'inbound_track',
      stream_codec: 'PCMU',
      stream_bidirectional_mode: 'rtp',
      stream_bidirectional_codec: 'PCMU',
    });
    const request = telnyxApi.requests.find((item) => item.path === `/v2/calls/${encodeURIComponent(call.call_control_id)}/actions/answer`);
    expect(request).toMatchObject({ method: 'POST', authorization: `Bearer ${TELNYX_API_KEY}`, contentType: 'application/json' });

    // The call, as its tenant sees it: Telnyx's call_session_id as the external id, and its carrier.
    const fetched = await api('GET', `/api/tenants/${tenant.id}/calls/${row.id}`);
    expect(fetched.body).toMatchObject({ external_call_id: call.call_session_id, carrier: 'telnyx', status: 'ringing' });
  });

  it('answers once and keeps one call row when the same event is delivered again, concurrently and later', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    const event = callInitiated(call);
    const answers = await Promise.all([send(event), send(event), send(event)]);
    answers.push(await send(event));
    expect(await callRows(call)).toHaveLength(1);
    const [row] = await callRows(call);
    for (const answer of answers) expect(answer.body).toMatchObject({ call_record_id: row.id });
    // Every answer VCA sent carries the same command_id: Telnyx acts on the first only.
    const sent = commandsOf(call);
    expect(new Set(sent.map((command) => command.body.command_id))).toEqual(new Set([`vca-answer-${call.call_session_id}`]));
    expect(telnyxApi.commandsFor(call.call_control_id).map((command) => command.action)).toEqual(['answer']);
  });

  it('sends no command at all for a call.initiated redelivered after the call was answered or had ended', async () => {
    const answered = await routedCall();
    await send(callAnswered(answered.call));
    const late = callInitiated(answered.call);
    const before = commandsOf(answered.call).length;
    const again = await send(late);
    expect(again.body).toMatchObject({ outcome: 'already_handled', call_record_id: answered.id, call_status: 'answered' });
    expect(commandsOf(answered.call)).toHaveLength(before);

    const ended = await routedCall();
    await send(callHangup(ended.call, 'originator_cancel'));
    const afterEnd = await send(callInitiated(ended.call));
    expect(afterEnd.body).toMatchObject({ outcome: 'already_handled', call_status: 'failed' });
    expect(commandsOf(ended.call)).toHaveLength(1);
    expect((await callRows(ended.call))[0].status).toBe('failed');
  });

  it('stores a long or odd caller id as a call record holds it, never routing by it', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number, { from: `sip:${'x'.repeat(80)}@sip.telnyx.com` });
    expect((await send(callInitiated(call))).body.outcome).toBe('answered');
    expect((await callRows(call))[0].caller_number).toBe(call.from.slice(0, 64));
  });

  it('ignores an outgoing call: VCA places none, so it is not VCA’s to answer', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    const response = await send(callInitiated(call, { direction: 'outgoing' }));
    expect(response.body).toMatchObject({ outcome: 'ignored' });
    expect(commandsOf(call)).toEqual([]);
    expect(await callRows(call)).toEqual([]);
  });
});

describe('events of another Call Control application', () => {
  it('ignores them (another connection_id): no command, no call, and a VCA call is left as it was', async () => {
    const { number } = await telnyxNumber();
    const stranger = telnyxCall(number.did_number);
    const foreign = { connection_id: '2299999999999999999' };
    const ignored = await send(callInitiated(stranger, foreign));
    expect(ignored.status).toBe(200);
    expect(ignored.body).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/connection_id/) });
    expect(commandsOf(stranger)).toEqual([]);
    expect(await callRows(stranger)).toEqual([]);

    const call = telnyxCall(number.did_number);
    expect((await send(callInitiated(call))).body).toMatchObject({ outcome: 'answered' });
    expect((await send(callHangup(call, 'normal_clearing', foreign))).body).toMatchObject({ outcome: 'ignored' });
    expect(await callRows(call)).toEqual([expect.objectContaining({ status: 'ringing', ended_at: null })]);
  });
});

describe('call.initiated for a call VCA must refuse', () => {
  const rejected = async (call: TelnyxCall, reason: string) => {
    const response = await send(callInitiated(call));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ outcome: 'rejected', reason });
    expect(commandsOf(call)).toEqual([
      {
        callControlId: call.call_control_id,
        action: 'reject',
        body: { cause: 'CALL_REJECTED', command_id: `vca-reject-${call.call_session_id}` },
        duplicate: false,
      },
    ]);
    expect(await callRows(call)).toHaveLength(0);
  };

  it('rejects a number no tenant owns', async () => {
    await rejected(telnyxCall(randomDid()), 'unknown_did');
  });

  it('rejects a deactivated number', async () => {
    const { number } = await telnyxNumber({ is_active: false });
    await rejected(telnyxCall(number.did_number), 'inactive_did');
  });

  it('rejects a suspended or deleted tenant’s number', async () => {
    for (const status of ['suspended', 'deleted']) {
      const { tenant, number } = await telnyxNumber();
      await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status } });
      await rejected(telnyxCall(number.did_number), 'tenant_inactive');
    }
  });

  it('treats a generic (Tata) or Twilio number as unknown, and a Telnyx number is unknown to the bridge and to Twilio’s webhook', async () => {
    const tenant = await createTenant();
    await createAiProfile(tenant.id, { is_default: true });
    const generic = await createPhoneNumber(tenant.id);
    const twilio = await createPhoneNumber(tenant.id, { provider_type: 'twilio' });
    await rejected(telnyxCall(generic.did_number), 'unknown_did');
    await rejected(telnyxCall(twilio.did_number), 'unknown_did');

    const telnyx = await createPhoneNumber(tenant.id, { provider_type: 'telnyx' });
    expect((await sendInbound(telnyx.did_number)).body).toMatchObject({ status: 'error', code: 'unknown_did' });
    expect(readTwiml((await sendVoice(voiceParams(telnyx.did_number))).text)).toEqual({ reject: 'rejected' });
  });

  it('rejects a dialled SIP URI, which is no phone number', async () => {
    await rejected(telnyxCall('sip:alice@vca.sip.telnyx.com'), 'unknown_did');
  });
});

describe('call.initiated when a command fails', () => {
  it('records the call failed (cause 41) and rejects it busy when Telnyx refuses the answer', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    telnyxApi.refuse = { action: 'answer', status: 422, code: '90015', title: 'Invalid stream_url' };
    const response = await send(callInitiated(call));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ outcome: 'failed', reason: 'answer_refused', call_status: 'failed', q850_cause: 41 });
    expect(await callRows(call)).toMatchObject([{ status: 'failed', hangup_cause: 41, duration_seconds: 0, answered_at: null }]);
    expect(telnyxApi.commandsFor(call.call_control_id)).toMatchObject([
      { action: 'reject', body: { cause: 'USER_BUSY', command_id: `vca-reject-${call.call_session_id}` } },
    ]);
  });

  it('records the call failed (cause 41) when Telnyx does not answer the command within 5 s', { timeout: 20_000 }, async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    telnyxApi.hang = true;
    const response = await send(callInitiated(call));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ outcome: 'failed', reason: 'answer_unreachable', call_status: 'failed' });
    expect(await callRows(call)).toMatchObject([{ status: 'failed', hangup_cause: 41 }]);
    // Nothing more is sent to an API that does not answer.
    expect(telnyxApi.requests.filter((request) => request.path.includes(encodeURIComponent(call.call_control_id)))).toHaveLength(1);
  });

  it('takes a caller who hung up before the answer (422, Telnyx error 90018) as a call that ended, not an error', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    telnyxApi.ended.add(call.call_control_id);
    const response = await send(callInitiated(call));
    expect(response.body).toMatchObject({ outcome: 'call_gone', call_status: 'failed', q850_cause: 31 });
    expect(await callRows(call)).toMatchObject([{ status: 'failed', hangup_cause: 31, duration_seconds: 0 }]);
    // The hangup event that follows changes nothing: the first end won.
    const hangup = await send(callHangup(call, 'originator_cancel'));
    expect(hangup.body).toMatchObject({ outcome: 'recorded', call_status: 'failed' });
  });
});

describe('call.initiated with the database down', () => {
  let down: RunningWorker;
  beforeAll(async () => {
    // Nothing listens there: every connection is refused.
    const url = new URL(inject('appDatabaseUrl'));
    url.port = String(await freePort());
    down = await startWorker(inject('workerScript'), workerBindings({ DATABASE_URL: url.toString(), TELNYX_API_BASE_URL: telnyxApi.url }));
  });
  afterAll(() => down?.dispose());

  it('rejects the call busy (USER_BUSY), so the caller may try again, and answers 200', async () => {
    const call = telnyxCall(randomDid());
    const response = await sendTelnyxEvent(callInitiated(call), { baseUrl: down.url });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ outcome: 'busy', reason: 'database_unavailable' });
    expect(telnyxApi.commandsFor(call.call_control_id)).toMatchObject([{ action: 'reject', body: { cause: 'USER_BUSY' } }]);
  });

  it('hangs up a call whose stream failed all the same, and answers 503 so that Telnyx delivers the event again', async () => {
    const call = telnyxCall(randomDid());
    const [tenantId, callRecordId] = [crypto.randomUUID(), crypto.randomUUID()];
    const path = `/internal/media/telnyx/${tenantId}/${callRecordId}/${encodeURIComponent(call.call_control_id)}`;
    const streamUrl = `wss://vca.test${path}/${mediaToken(tenantId, callRecordId, call.call_control_id)}`;
    expectProblem(await sendTelnyxEvent(streamingFailed(call, { streamUrl }), { baseUrl: down.url }), 503, 'database_unavailable');
    expect(telnyxApi.commandsFor(call.call_control_id)).toMatchObject([{ action: 'hangup' }]);
  });

  it('answers 503 to call.answered and call.hangup, so that Telnyx delivers them again later', async () => {
    const call = telnyxCall(randomDid());
    expectProblem(await sendTelnyxEvent(callAnswered(call), { baseUrl: down.url }), 503, 'database_unavailable');
    expectProblem(await sendTelnyxEvent(callHangup(call, 'normal_clearing'), { baseUrl: down.url }), 503, 'database_unavailable');
  });
});

describe('call.answered and call.hangup', () => {
  it('moves a call to answered (answered_at set once), then ends it with its talk time from start_time', async () => {
    const started = new Date((nowSeconds() - 42) * 1000);
    const { tenant, number } = await telnyxNumber();
    const call = telnyxCall(number.did_number, { start_time: started.toISOString() });
    await send(callInitiated(call));
    const answered = await send(callAnswered(call));
    expect(answered.body).toMatchObject({ outcome: 'recorded', call_status: 'answered' });
    const answeredAt = (await callRows(call))[0].answered_at;
    expect(answeredAt).not.toBeNull();
    await send(callAnswered(call));
    expect((await callRows(call))[0].answered_at).toEqual(answeredAt);

    const endedAt = new Date(nowSeconds() * 1000);
    const hangup = await send(callHangup(call, 'normal_clearing'), {});
    expect(hangup.body).toMatchObject({ outcome: 'recorded', call_status: 'ended', hangup_cause: 'normal_clearing', q850_cause: 16 });
    const [row] = await callRows(call);
    expect(row).toMatchObject({ status: 'ended', hangup_cause: 16 });
    expect(row.duration_seconds).toBeGreaterThanOrEqual(42);
    expect(row.duration_seconds).toBeLessThanOrEqual(44);
    expect(Math.abs(row.ended_at.getTime() - endedAt.getTime())).toBeLessThan(3_000);
    const fetched = await api('GET', `/api/tenants/${tenant.id}/calls/${row.id}`);
    expect(fetched.body).toMatchObject({ status: 'ended', hangup_cause: 16, duration_seconds: row.duration_seconds });
  });

  it.each([
    ['normal_clearing', 'ended', 16, 30],
    ['time_limit', 'ended', 102, 30],
    ['user_busy', 'failed', 17, 0],
    ['no_answer', 'failed', 19, 0],
    ['timeout', 'failed', 19, 0],
    ['call_rejected', 'failed', 21, 0],
    ['not_found', 'failed', 1, 0],
    ['originator_cancel', 'failed', 31, 0],
    ['unspecified', 'failed', 31, 0],
    ['a_cause_telnyx_adds_later', 'failed', 31, 0],
  ])('records hangup_cause %s as %s with Q.850 cause %i and %i s of talk time', async (cause, status, q850, talk) => {
    const { call } = await routedCall();
    const end = nowSeconds();
    const occurredAt = new Date(end * 1000).toISOString();
    const startTime = new Date((end - 30) * 1000).toISOString();
    const response = await send(
      telnyxEvent(
        'call.hangup',
        { ...call, start_time: startTime, hangup_cause: cause, hangup_source: 'callee' },
        { occurred_at: occurredAt },
      ),
    );
    expect(response.body).toMatchObject({ outcome: 'recorded', call_status: status, hangup_cause: cause, q850_cause: q850 });
    const [row] = await callRows(call);
    expect(row).toMatchObject({ status, hangup_cause: q850, duration_seconds: talk });
    expect(row.ended_at.toISOString()).toBe(occurredAt.replace(/\.\d+Z$/, '.000Z'));
  });

  it('takes the end from end_time where Telnyx sends one', async () => {
    const { call } = await routedCall();
    const end = nowSeconds() - 5;
    const response = await send(
      callHangup(call, 'normal_clearing', {
        start_time: new Date((end - 12) * 1000).toISOString(),
        end_time: new Date(end * 1000).toISOString(),
      }),
    );
    expect(response.body.call_status).toBe('ended');
    const [row] = await callRows(call);
    expect(row.duration_seconds).toBe(12);
    expect(row.ended_at.getTime()).toBe(end * 1000);
  });

  it('never moves a call backwards: answered after hangup, the same hangup redelivered, a second end', async () => {
    const { call } = await routedCall();
    const hangup = callHangup(call, 'no_answer');
    await send(hangup);
    const ended = (await callRows(call))[0];
    expect(ended.status).toBe('failed');
    for (const event of [callAnswered(call), hangup, callHangup(call, 'normal_clearing'), callInitiated(call)]) {
      const response = await send(event);
      expect(response.status).toBe(200);
      expect(response.body.call_status).toBe('failed');
    }
    expect((await callRows(call))[0]).toEqual(ended);
  });

  it('answers unknown_call for a call it never recorded, or the right call on another number, changing nothing', async () => {
    const { call, id } = await routedCall();
    const unknown = await send(callHangup(telnyxCall(call.to), 'normal_clearing'));
    expect(unknown.body).toMatchObject({ outcome: 'unknown_call' });
    const elsewhere = await send(callHangup({ ...call, to: randomDid() }, 'normal_clearing'));
    expect(elsewhere.body).toMatchObject({ outcome: 'unknown_call' });
    const answeredElsewhere = await send(callAnswered({ ...call, to: randomDid() }));
    expect(answeredElsewhere.body).toMatchObject({ outcome: 'unknown_call' });
    expect((await callRows(call))[0]).toMatchObject({ id, status: 'ringing' });
  });

  it('acknowledges other events and changes nothing', async () => {
    const { call } = await routedCall();
    const before = await callRows(call);
    for (const type of ['call.bridged', 'streaming.started', 'streaming.stopped', 'call.dtmf.received', 'something.new']) {
      const response = await send(telnyxEvent(type, { ...call, failure_reason: 'connection refused' }));
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ outcome: 'ignored', event_type: type });
    }
    expect(await callRows(call)).toEqual(before);
  });

  it('answers 400 to a signed call event without the ids it needs, and sends no command', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    const { call_session_id: _omitted, ...withoutSession } = call;
    const response = await send(telnyxEvent('call.initiated', { ...withoutSession, direction: 'incoming' }));
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors).toEqual([{ path: 'data.payload.call_session_id', message: 'required for this event type' }]);
    expect(commandsOf(call)).toEqual([]);
    expectProblem(await send('{"data": '), 400, 'malformed_json');
    expectProblem(await send({ data: { event_type: 'call.initiated' } }), 400, 'validation_failed');
  });
});

describe('streaming.failed: the answered call’s media stream could not be opened', () => {
  /** The answer command VCA sent for the call: its stream_url and client_state. */
  const answerOf = (call: TelnyxCall) => {
    const answer = commandsOf(call).find((command) => command.action === 'answer');
    return { streamUrl: String(answer?.body.stream_url), clientState: String(answer?.body.client_state) };
  };
  async function sessionColumns(id: string) {
    const { rows } = await sql('select session_started_at, session_ended_at, session_end_reason from calls where id = $1', [id]);
    return rows[0];
  }

  it('records the call failed (41), its session ended error and never started, then hangs it up once; Telnyx’s call.hangup and a redelivery change nothing', async () => {
    const { call, tenant, id } = await routedCall();
    await send(callAnswered(call));
    const event = streamingFailed(call, answerOf(call));
    const response = await send(event);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      outcome: 'failed',
      reason: 'stream_failed',
      call_record_id: id,
      call_status: 'failed',
      q850_cause: 41,
    });
    const hangups = commandsOf(call).filter((command) => command.action === 'hangup');
    expect(hangups).toHaveLength(1);
    expect(hangups[0]?.body).toEqual({
      command_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    });
    expect((await callRows(call))[0]).toMatchObject({ status: 'failed', hangup_cause: 41, duration_seconds: 0 });
    expect(await sessionColumns(id)).toMatchObject({ session_started_at: null, session_end_reason: 'error' });
    const transcript = await api('GET', `/api/tenants/${tenant.id}/calls/${id}/transcript`);
    expect(transcript.body).toEqual({ call_id: id, turns: [], summary: null });

    // Telnyx reports VCA's hang-up; the event comes again: the first end stays, and Telnyx is asked once more at most (the call is gone).
    const hangup = await send(callHangup(call, 'normal_clearing', { hangup_source: 'callee' }));
    expect(hangup.body).toMatchObject({ outcome: 'recorded', call_status: 'failed' });
    const again = await send(event);
    expect(again.status).toBe(200);
    expect((await callRows(call))[0]).toMatchObject({ status: 'failed', hangup_cause: 41, duration_seconds: 0 });
    expect(telnyxApi.commandsFor(call.call_control_id).map((command) => command.action)).toEqual(['answer', 'hangup']);

    const stranger = await createTenant();
    expectProblem(await api('GET', `/api/tenants/${stranger.id}/calls/${id}`), 404, 'call_not_found');
  });

  it.each([
    ['no stream_url', () => ({ streamUrl: undefined })],
    [
      'a stream_url whose token was altered',
      (_call: TelnyxCall, url: string) => ({ streamUrl: `${url.slice(0, -1)}${url.endsWith('A') ? 'B' : 'A'}` }),
    ],
    ['a stream_url that is no URL', () => ({ streamUrl: 'not a url' })],
    ['another call’s call_control_id', (_call: TelnyxCall, url: string) => ({ streamUrl: url, call_control_id: 'v3:another-call_0123' })],
    [
      'another call’s call_session_id',
      (_call: TelnyxCall, url: string) => ({ streamUrl: url, call_session_id: '5f9c1b7e-0000-4000-8000-000000000000' }),
    ],
  ])('changes nothing and sends nothing for an event with %s', async (_label, change) => {
    const { call, id } = await routedCall();
    const { streamUrl: url } = answerOf(call);
    const { streamUrl, ...ids } = change(call, url) as { streamUrl: string | undefined } & Record<string, string>;
    const response = await send(streamingFailed({ ...call, ...ids }, { streamUrl }));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ outcome: 'unknown_call' });
    expect(commandsOf(call).map((command) => command.action)).toEqual(['answer']);
    expect((await callRows(call))[0]).toMatchObject({ status: 'ringing', hangup_cause: null });
    expect(await sessionColumns(id)).toMatchObject({ session_ended_at: null });
  });

  it('leaves a call whose session started to the session (no hang-up, nothing recorded)', async () => {
    const { call, id } = await routedCall();
    await sql(`update calls set session_started_at = now(), status = 'answered' where id = $1`, [id]);
    const response = await send(streamingFailed(call, answerOf(call)));
    expect(response.body).toMatchObject({ outcome: 'ignored', call_record_id: id });
    expect(commandsOf(call).map((command) => command.action)).toEqual(['answer']);
    expect((await callRows(call))[0]).toMatchObject({ status: 'answered', hangup_cause: null });
  });
});

describe('POST /webhooks/telnyx/call-control, signatures', () => {
  const refused = async (response: Awaited<ReturnType<typeof send>>, call: TelnyxCall) => {
    expectProblem(response, 401, 'invalid_signature');
    expect(await callRows(call)).toHaveLength(0);
    expect(commandsOf(call)).toEqual([]);
  };

  it('answers 401 to an unsigned request, or one without its timestamp, and records nothing', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    await refused(await send(callInitiated(call), { key: null }), call);
    await refused(await send(callInitiated(call), { timestamp: null }), call);
    await refused(await send(callInitiated(call), { signature: 'not-a-signature' }), call);
  });

  it('answers 401 to a request signed with another key', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    await refused(await send(callInitiated(call), { key: OTHER_TELNYX_PRIVATE_KEY_PKCS8 }), call);
  });

  it('answers 401 to a replay: a correctly signed request whose timestamp is more than 300 s old (or ahead)', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    await refused(await send(callInitiated(call), { timestamp: nowSeconds() - 301 }), call);
    await refused(await send(callInitiated(call), { timestamp: nowSeconds() + 301 }), call);
    // Within the window, the same call is answered.
    expect((await send(callInitiated(call), { timestamp: nowSeconds() - 240 })).body.outcome).toBe('answered');
  });

  it('answers 401 when the body was altered after signing (the call moved to another tenant’s number)', async () => {
    const { number } = await telnyxNumber();
    const other = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    const signed = JSON.stringify(callInitiated(call));
    const moved = signed.replaceAll(number.did_number, other.number.did_number);
    await refused(await send(moved, { signedBody: signed }), call);
  });

  it('answers 401 to a forged hangup, and the call stays as it was', async () => {
    const { call, id } = await routedCall();
    expectProblem(await send(callHangup(call, 'normal_clearing'), { key: OTHER_TELNYX_PRIVATE_KEY_PKCS8 }), 401, 'invalid_signature');
    expect((await callRows(call))[0]).toMatchObject({ id, status: 'ringing', ended_at: null });
  });
});

describe('the Telnyx webhook without Telnyx configured', () => {
  let unconfigured: RunningWorker;
  beforeAll(async () => {
    unconfigured = await startWorker(inject('workerScript'), workerBindings({ TELNYX_PUBLIC_KEY: '', TELNYX_API_BASE_URL: telnyxApi.url }));
  });
  afterAll(() => unconfigured?.dispose());

  it('answers 503 naming what is missing, and records nothing', async () => {
    const { number } = await telnyxNumber();
    const call = telnyxCall(number.did_number);
    const response = await sendTelnyxEvent(callInitiated(call), { baseUrl: unconfigured.url });
    const problem = expectProblem(response, 503, 'telnyx_not_configured');
    expect(problem.detail).toContain('TELNYX_PUBLIC_KEY');
    expect(await callRows(call)).toHaveLength(0);
    expect(commandsOf(call)).toEqual([]);
  });
});

describe('a Telnyx call and tenant isolation', () => {
  it('is visible only to its own tenant, and another tenant’s events never touch it', async () => {
    const { call, tenant, id } = await routedCall();
    const other = await routedCall();

    const own = await api('GET', `/api/tenants/${tenant.id}/calls?carrier=telnyx`);
    expect(own.body.data.map((item: { id: string }) => item.id)).toContain(id);
    expectProblem(await api('GET', `/api/tenants/${other.tenant.id}/calls/${id}`), 404, 'call_not_found');
    const foreign = await api('GET', `/api/tenants/${other.tenant.id}/calls?limit=100`);
    expect(foreign.text).not.toContain(call.call_session_id);

    // The other tenant's number with this call's session id: no such call there.
    const crossed = await send(callHangup({ ...call, to: other.number.did_number }, 'normal_clearing'));
    expect(crossed.body).toMatchObject({ outcome: 'unknown_call' });
    expect((await callRows(call))[0]).toMatchObject({ id, status: 'ringing' });
    expect((await callRows(other.call))[0]).toMatchObject({ id: other.id, status: 'ringing' });
  });
});

describe('the Telnyx webhook in the OpenAPI document', () => {
  it('documents the webhook (JSON body and answer) with the Telnyx signature as its security', async () => {
    const spec = await api('GET', '/openapi.json', { token: null, baseUrl: worker.url });
    const operation = spec.body.paths[TELNYX_WEBHOOK_PATH].post;
    expect(Object.keys(operation.requestBody.content)).toEqual(['application/json']);
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '503']));
    expect(operation.security).toEqual([{ telnyxSignature: [] }]);
    expect(spec.body.components.securitySchemes.telnyxSignature).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'telnyx-signature-ed25519',
    });
    const providerType = spec.body.components.schemas.PhoneNumber.properties.provider_type;
    expect(providerType.enum).toEqual(['generic', 'twilio', 'telnyx']);
    expect(providerType.description).toContain('`telnyx`');
  });
});
