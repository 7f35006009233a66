// The AI conversation of a call, on the Worker's side: the bridge's signed media socket into the
// CallSession Durable Object (in workerd), the realtime model emulator behind it, the records in
// Postgres. Each test routes a real call through the ingest first, so the session starts from the
// same call record a PBX call would.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { asteriskMediaTarget } from '../contract/media.ts';
import { freePort } from '../tools/free-port.ts';
import { type RunningWorker, startWorker } from '../tools/miniflare-worker.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, randomDid, sql } from './support/api.ts';
import { workerBindings } from './support/bindings.ts';
import { waitFor } from './support/bridge.ts';
import { REMOVED_SIGNING_SECRET } from './support/constants.ts';
import { type MediaSession, openMediaSession, type SignedRouteFields } from './support/media-session.ts';
import { emulatorSessions, emulatorSessionTagged, endedSession, sessionCallRow, type Transcript } from './support/session-records.ts';
import { inboundPayload, sendCallEnded, sendInbound, signedPost } from './support/telephony.ts';

const GREETING = 'Thank you for calling Acme Dental, this is the front desk.';

interface RoutedCall {
  tenantId: string;
  callRecordId: string;
  /** The rest of the routing answer, which the bridge's media request carries. */
  route: SignedRouteFields;
  /** A line of the profile's prompt that names this call's session at the emulator. */
  tag: string;
}

/** A tenant with a number and a default profile, and a call to it routed through the ingest. */
async function routedCall(profile: Record<string, unknown> = {}): Promise<RoutedCall> {
  const tenant = await createTenant();
  const number = await createPhoneNumber(tenant.id, { did_number: randomDid() });
  const tag = `Reference ${randomUUID()}.`;
  const prompt = String(profile.system_prompt ?? 'You are a helpful receptionist.');
  await createAiProfile(tenant.id, { is_default: true, greeting: GREETING, ...profile, system_prompt: `${prompt}\n${tag}` });
  const callId = `${Math.floor(Date.now() / 1000)}.${randomUUID().slice(0, 8)}`;
  const answer = await sendInbound(number.did_number, { call_id: callId });
  if (answer.body.status !== 'success') throw new Error(`the call was not routed: ${answer.text}`);
  return {
    tenantId: tenant.id,
    callRecordId: answer.body.call_record_id,
    route: { phoneNumberId: answer.body.phone_number_id, aiProfileId: answer.body.ai_profile?.id ?? null, callId },
    tag,
  };
}

async function connect(call: RoutedCall, workerUrl = inject('workerUrl')): Promise<MediaSession> {
  const opened = await openMediaSession({ workerUrl, ...call });
  if (!opened.ok) throw new Error(`the session was refused: ${opened.status} ${opened.body}`);
  return opened.session;
}

describe('a call session', () => {
  it('greets the caller first, with the profile’s greeting, before any caller audio', async () => {
    const call = await routedCall();
    const session = await connect(call);
    await session.until('the greeting', () => session.audioBytes() >= 8_000);
    expect(session.framesSent).toBe(0);
    session.hangUp();
    const { row, transcript } = await endedSession(call);
    expect(row.session_end_reason).toBe('caller_hung_up');
    expect(row.status).toBe('answered');
    expect(row.answered_at).not.toBeNull();
    expect(transcript.turns[0]).toMatchObject({ role: 'agent' });
    expect(GREETING.startsWith(transcript.turns[0]?.text ?? 'x')).toBe(true);
  });

  it('echoes a caller turn back and keeps both turns in the transcript, with a summary', async () => {
    const call = await routedCall({ greeting: 'Hello.' });
    const session = await connect(call);
    await session.until('the greeting', () => session.audioBytes() > 0);
    // Wait for the greeting to play out, so the caller does not interrupt it.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const before = session.audioBytes();
    await session.speak(600, 'tone');
    await session.speak(800, 'silence');
    // The echo is the caller's 600 ms: 4,800 bytes of μ-law, give or take a frame.
    await session.until('the echo', () => session.audioBytes() - before >= 4_600);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    session.hangUp();
    const { transcript } = await endedSession(call);
    const roles = transcript.turns.map((turn) => turn.role);
    expect(roles).toEqual(['agent', 'caller', 'agent']);
    expect(transcript.turns[1]?.text).toMatch(/echo/i);
    expect(transcript.turns[2]?.text).toMatch(/echo/i);
    expect(transcript.summary).toEqual(expect.any(String));
    const offsets = transcript.turns.map((turn) => turn.offset_ms);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
  });
});

describe('a call session, in conversation', () => {
  it('stops the agent when the caller talks over it: a flush at the carrier, and the agent’s turn cut at what was heard', async () => {
    const long =
      'Thank you for calling Acme Dental. We are open from nine to five, Monday to Saturday, and closed on public holidays. How can I help you today?';
    const call = await routedCall({ greeting: long });
    const session = await connect(call);
    await session.until('the greeting', () => session.audioBytes() >= 4_000);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const interruptedAt = Date.now() - session.opened;
    await session.speak(500, 'tone');
    await session.until('the flush', () => session.commands.some((c) => c.command === 'FLUSH_MEDIA'));
    const flush = session.commands.find((c) => c.command === 'FLUSH_MEDIA');
    expect(flush?.at).toBeGreaterThanOrEqual(interruptedAt);
    await session.speak(800, 'silence');
    await new Promise((resolve) => setTimeout(resolve, 500));
    session.hangUp();
    const { transcript } = await endedSession(call);
    const greeting = transcript.turns[0];
    expect(greeting?.role).toBe('agent');
    // Cut where the caller came in: a beginning of the greeting, not the whole of it.
    expect(greeting?.text.length).toBeGreaterThan(0);
    expect(greeting?.text.length).toBeLessThan(long.length);
    expect(long.startsWith(greeting?.text ?? 'x')).toBe(true);
    const record = await emulatorSession(call);
    expect(record.truncations).toHaveLength(1);
    expect(record.truncations[0].audio_end_ms).toBeGreaterThan(0);
  });

  it('cuts the agent’s turn at what was heard also when the model falls behind real time and the caller talks into the gap', async () => {
    const long =
      'Thank you for calling Acme Dental. We are open from nine to five, Monday to Saturday, and closed on public holidays. How can I help you today?';
    // Half as fast as it plays: everything that has arrived has been heard, and more is coming.
    const call = await routedCall({ greeting: long, system_prompt: 'You are a receptionist.\n[emulator] pace_percent=50' });
    const session = await connect(call);
    await session.until('the greeting', () => session.audioBytes() >= 4_000);
    await session.speak(500, 'tone');
    await session.until('the flush', () => session.commands.some((c) => c.command === 'FLUSH_MEDIA'));
    await session.speak(800, 'silence');
    session.hangUp();
    const { transcript } = await endedSession(call);
    const greeting = transcript.turns[0];
    expect(greeting?.role).toBe('agent');
    expect(greeting?.text.length).toBeGreaterThan(0);
    expect(greeting?.text.length).toBeLessThan(long.length / 2);
    expect(long.startsWith(greeting?.text ?? 'x')).toBe(true);
    const record = await emulatorSession(call);
    expect(record.truncations).toHaveLength(1);
  });

  it('hands a keypad digit to the model as text', async () => {
    const call = await routedCall({ greeting: 'Hi.' });
    const session = await connect(call);
    await session.until('the greeting', () => session.audioBytes() > 0);
    session.dtmf('5');
    let heard = '';
    for (let i = 0; i < 50 && !/pressed 5/.test(heard); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      heard = (await emulatorSession(call)).user_texts.join(' ');
    }
    expect(heard).toMatch(/pressed 5/);
    session.hangUp();
    const { transcript } = await endedSession(call);
    expect(transcript.turns.some((turn) => turn.role === 'caller' && turn.text.includes('5'))).toBe(true);
  });

  it('hangs up when the agent calls end_call, after its last words', async () => {
    const call = await routedCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] end_call_after_turns=1' });
    const session = await connect(call);
    await session.until('the greeting', () => session.audioBytes() > 0);
    await new Promise((resolve) => setTimeout(resolve, 800));
    await session.speak(400, 'tone');
    await session.speak(700, 'silence');
    const closed = await session.closed;
    // A mark after the last words; once Asterisk says it has played them, the hang-up.
    expect(session.commands.slice(-2).map((entry) => entry.command)).toEqual(['MARK_MEDIA', 'HANGUP']);
    expect(closed.code).toBe(1000);
    const { row, transcript } = await endedSession(call);
    expect(row.session_end_reason).toBe('agent_ended');
    expect(transcript.turns.at(-1)).toMatchObject({ role: 'agent', text: expect.stringMatching(/goodbye/i) });
  });

  it('ends the call when the model fails mid-call, and records why', async () => {
    const call = await routedCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] fail_after_ms=1200' });
    const session = await connect(call);
    await session.closed;
    expect(session.commands.at(-1)?.command).toBe('HANGUP');
    const { row } = await endedSession(call);
    expect(row.session_end_reason).toBe('model_failed');
  });

  it('refuses to start when the model is not ready within its 2 s of the caller’s 3 s wait, and records why', async () => {
    const call = await routedCall({ system_prompt: 'You are a receptionist.\n[emulator] slow_start_ms=4000' });
    const opened = await openMediaSession({ workerUrl: inject('workerUrl'), ...call });
    expect(opened).toMatchObject({ ok: false, status: 503 });
    expect(opened.ok ? '' : opened.body).toContain('model_unavailable');
    const { row } = await endedSession(call);
    expect(row.session_end_reason).toBe('model_unavailable');
    expect(row.session_started_at).toBeNull();
  });

  it('refuses to start when the model refuses the session, and records why', async () => {
    const call = await routedCall({ system_prompt: 'You are a receptionist.\n[emulator] fail=start' });
    const opened = await openMediaSession({ workerUrl: inject('workerUrl'), ...call });
    expect(opened).toMatchObject({ ok: false, status: 503 });
    expect((await endedSession(call)).row.session_end_reason).toBe('model_unavailable');
  });

  it('ends the call at the profile’s time limit, with a goodbye', { timeout: 60_000 }, async () => {
    const call = await routedCall({ greeting: 'Hi.', max_duration_seconds: 30 });
    const session = await connect(call);
    const closed = await session.closed;
    expect(closed.code).toBe(1000);
    expect(session.commands.at(-1)?.command).toBe('HANGUP');
    const { row } = await endedSession(call);
    expect(row.session_end_reason).toBe('time_limit');
    const seconds = (Date.parse(row.session_ended_at) - Date.parse(row.session_started_at)) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(30);
  });

  it('lets an agent still speaking at the time limit finish, then says the goodbye', { timeout: 60_000 }, async () => {
    const call = await routedCall({ greeting: 'Hi.', max_duration_seconds: 30 });
    const session = await connect(call);
    // The caller speaks from 25.5 s on; its 3 s echo is playing when the limit comes at 30 s.
    while (Date.now() - session.opened < 25_500) await session.speak(100, 'silence');
    await session.speak(3_000, 'tone');
    await session.speak(600, 'silence');
    await session.closed;
    const { row, transcript } = await endedSession(call);
    expect(row.session_end_reason).toBe('time_limit');
    const replies: { reply: string; status: string; conversation: string }[] = (await emulatorSessionTagged(call.tag))?.responses ?? [];
    expect(replies.filter((response) => response.conversation === 'auto').map((response) => [response.reply, response.status])).toEqual([
      ['scripted', 'completed'],
      ['echo', 'completed'],
      ['goodbye', 'completed'],
    ]);
    expect(transcript.turns.at(-1)).toMatchObject({ role: 'agent', text: expect.stringMatching(/goodbye/i) });
  });
});

describe('a model service that cannot be reached', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    // Nothing listens there.
    worker = await startWorker(inject('workerScript'), workerBindings({ REALTIME_URL: `ws://127.0.0.1:${await freePort()}/v1/realtime` }));
  });
  afterAll(() => worker?.dispose());

  it('refuses the session (the PBX ends the call with cause 41) and records model_unavailable', async () => {
    const call = await routedCall();
    const opened = await openMediaSession({ workerUrl: worker.url, ...call });
    expect(opened).toMatchObject({ ok: false, status: 503 });
    const { row } = await endedSession(call);
    expect(row.session_end_reason).toBe('model_unavailable');
  });
});

describe('refusals', () => {
  it('answers 401 to an unsigned or wrongly signed upgrade, and opens no session', async () => {
    const call = await routedCall();
    const before = (await emulatorSessions()).length;
    for (const secret of [null, REMOVED_SIGNING_SECRET]) {
      const opened = await openMediaSession({ workerUrl: inject('workerUrl'), ...call, secret });
      expect(opened).toMatchObject({ ok: false, status: 401 });
    }
    // A signature for one call does not open another.
    const other = await routedCall();
    const moved = await openMediaSession({
      workerUrl: inject('workerUrl'),
      ...call,
      sendTarget: `/internal/media/asterisk/${other.callRecordId}?tenant_id=${other.tenantId}`,
    });
    expect(moved).toMatchObject({ ok: false, status: 401 });
    expect((await emulatorSessions()).length).toBe(before);
    expect((await sessionCallRow(call.callRecordId)).session_started_at).toBeNull();
  });

  it('refuses another tenant’s call as unknown (404), and a suspended tenant’s call (403)', async () => {
    const call = await routedCall();
    const stranger = await createTenant();
    await createAiProfile(stranger.id, { is_default: true });
    // With the route the call was routed with, or with the tenant alone (a bridge from before the route was carried).
    for (const route of [call.route, undefined]) {
      const foreign = await openMediaSession({
        workerUrl: inject('workerUrl'),
        callRecordId: call.callRecordId,
        tenantId: stranger.id,
        route,
      });
      expect(foreign).toMatchObject({ ok: false, status: 404 });
    }
    await api('PATCH', `/api/tenants/${call.tenantId}`, { body: { status: 'suspended' } });
    const suspended = await openMediaSession({ workerUrl: inject('workerUrl'), ...call });
    expect(suspended).toMatchObject({ ok: false, status: 403 });
    expect((await sessionCallRow(call.callRecordId)).session_started_at).toBeNull();
  });

  it('refuses a second stream for a call that has one, and a call whose session ended (409)', async () => {
    const call = await routedCall({ greeting: 'Hi.' });
    const session = await connect(call);
    const second = await openMediaSession({ workerUrl: inject('workerUrl'), ...call });
    expect(second).toMatchObject({ ok: false, status: 409 });
    session.hangUp();
    await endedSession(call);
    const again = await openMediaSession({ workerUrl: inject('workerUrl'), ...call });
    expect(again).toMatchObject({ ok: false, status: 409 });
  });
});

describe('a bridge call whose record has not arrived yet', () => {
  /** A call the bridge routed from its table: its route, and its record still in the bridge's spool. */
  async function unrecordedCall(profile: Record<string, unknown> = {}) {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id, { did_number: randomDid() });
    const tag = `Reference ${randomUUID()}.`;
    const prompt = String(profile.system_prompt ?? 'You are a helpful receptionist.');
    const created = await createAiProfile(tenant.id, {
      is_default: true,
      greeting: GREETING,
      ...profile,
      system_prompt: `${prompt}\n${tag}`,
    });
    const callId = `${Math.floor(Date.now() / 1000)}.${randomUUID().slice(0, 8)}`;
    const call: RoutedCall = {
      tenantId: tenant.id,
      callRecordId: randomUUID(),
      route: { phoneNumberId: number.id, aiProfileId: created.id, callId },
      tag,
    };
    return { call, did: number.did_number };
  }

  /** The bridge's spooled record of the call, delivered as the bridge delivers it. */
  async function deliverRecord(call: RoutedCall, did: string) {
    const answer = await signedPost('/internal/telephony/inbound/batch', {
      events: [
        {
          ...inboundPayload(did, { call_id: call.route.callId }),
          call_record_id: call.callRecordId,
          tenant_id: call.tenantId,
          phone_number_id: call.route.phoneNumberId,
          ai_profile_id: call.route.aiProfileId,
        },
      ],
    });
    expect(answer.body.results).toEqual([{ status: 'success', call_record_id: call.callRecordId, replayed: false }]);
  }

  /** The session's records, once written: the retries run from 1 s, doubling. */
  async function recordedSession(call: RoutedCall, timeoutMs = 20_000) {
    return waitFor(
      'the session’s records',
      async () => {
        const row = await sessionCallRow(call.callRecordId);
        if (!row?.session_end_reason) return undefined;
        const transcript = await api('GET', `/api/tenants/${call.tenantId}/calls/${call.callRecordId}/transcript`);
        return transcript.body.summary !== undefined ? { row, transcript: transcript.body as Transcript } : undefined;
      },
      timeoutMs,
    );
  }

  it('greets the caller and echoes them; once the record arrives, the start, end, transcript and summary are written for its tenant only', async () => {
    const { call, did } = await unrecordedCall({ greeting: 'Hello.' });
    const session = await connect(call);
    await session.until('the greeting', () => session.audioBytes() > 0);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const before = session.audioBytes();
    await session.speak(600, 'tone');
    await session.speak(800, 'silence');
    await session.until('the echo', () => session.audioBytes() - before >= 4_600);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const hungUpAt = Date.now();
    session.hangUp();
    // The session ended with nowhere to write: nothing of it is anywhere in the database yet.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await sessionCallRow(call.callRecordId)).toBeUndefined();
    const { rows: early } = await sql('select count(*)::int as n from call_transcripts where call_id = $1', [call.callRecordId]);
    expect(early[0].n).toBe(0);

    await deliverRecord(call, did);
    const { row, transcript } = await recordedSession(call);
    expect(row.session_end_reason).toBe('caller_hung_up');
    expect(row.status).toBe('answered');
    // The times are the session's own, not those of the late write.
    expect(Date.parse(row.session_started_at)).toBeLessThan(hungUpAt - 4_000);
    expect(row.answered_at).toEqual(row.session_started_at);
    expect(Date.parse(row.session_ended_at)).toBeLessThan(hungUpAt + 1_000);
    expect(transcript.turns.map((turn) => turn.role)).toEqual(['agent', 'caller', 'agent']);
    expect(transcript.summary).toEqual(expect.any(String));
    const stranger = await createTenant();
    expect((await api('GET', `/api/tenants/${stranger.id}/calls/${call.callRecordId}/transcript`)).status).toBe(404);
    const { rows } = await sql('select tenant_id from call_transcripts where call_id = $1', [call.callRecordId]);
    expect(rows).toEqual([{ tenant_id: call.tenantId }]);
  });

  it('speaks as the profile the route names, not the tenant’s default now', async () => {
    const { call } = await unrecordedCall();
    const tag = `Reference ${randomUUID()}.`;
    const routed = await createAiProfile(call.tenantId, {
      name: 'Night desk',
      greeting: 'Good evening.',
      system_prompt: `Night desk.\n${tag}`,
    });
    const session = await connect({ ...call, route: { ...call.route, aiProfileId: routed.id }, tag });
    await session.until('the greeting', () => session.audioBytes() > 0);
    expect(await emulatorSessionTagged(tag)).toBeDefined();
    expect(await emulatorSessionTagged(call.tag)).toBeUndefined();
    session.hangUp();
  });

  it('keeps the answer time of a call whose end arrived before the session could write', async () => {
    const { call, did } = await unrecordedCall({ greeting: 'Hi.' });
    const session = await connect(call);
    await session.until('the greeting', () => session.audioBytes() > 0);
    session.hangUp();
    // The bridge's spool delivers the call's record, then its end right behind it (Dial's 7 s of talk).
    await deliverRecord(call, did);
    const ended = await sendCallEnded(call.route.callId, did, { duration_seconds: '7' });
    expect(ended.body).toMatchObject({ status: 'success', call_record_id: call.callRecordId, call_status: 'ended' });
    const { row } = await recordedSession(call);
    expect(row.status).toBe('ended');
    expect(row.session_end_reason).toBe('caller_hung_up');
    expect(row.answered_at).not.toBeNull();
    expect(row.session_started_at).not.toBeNull();
  });

  it('refuses a route it was not signed with (401), and opens no session', async () => {
    const { call } = await unrecordedCall();
    const other = await unrecordedCall();
    const target = (route: typeof call.route, tenantId = call.tenantId) =>
      asteriskMediaTarget({
        call_record_id: call.callRecordId,
        tenant_id: tenantId,
        phone_number_id: route.phoneNumberId,
        ai_profile_id: route.aiProfileId,
        call_id: route.callId,
      });
    const before = (await emulatorSessions()).length;
    for (const sendTarget of [
      target({ ...call.route, aiProfileId: other.call.route.aiProfileId }),
      target(other.call.route, other.call.tenantId),
      target({ ...call.route, callId: `${call.route.callId}9` }),
      target({ ...call.route, aiProfileId: null }),
      `${target(call.route)}&ai_profile_id=${other.call.route.aiProfileId}`,
    ]) {
      const opened = await openMediaSession({ workerUrl: inject('workerUrl'), ...call, sendTarget });
      expect(opened, sendTarget).toMatchObject({ ok: false, status: 401 });
    }
    expect((await emulatorSessions()).length).toBe(before);
  });

  it('takes a PBX call id of any printable characters, signed as the bridge sends it', async () => {
    const { call } = await unrecordedCall({ greeting: 'Hi.' });
    const session = await connect({ ...call, route: { ...call.route, callId: `1790000000.7'"<>%25+&=#?~\\` } });
    await session.until('the greeting', () => session.audioBytes() > 0);
    session.hangUp();
  });

  it('answers 400 to a signed request with half a route', async () => {
    const { call } = await unrecordedCall();
    const query = new URLSearchParams({ tenant_id: call.tenantId, phone_number_id: call.route.phoneNumberId });
    const sendTarget = `/internal/media/asterisk/${call.callRecordId}?${query}`;
    const signed = await openMediaSession({
      workerUrl: inject('workerUrl'),
      callRecordId: call.callRecordId,
      tenantId: call.tenantId,
      signTarget: sendTarget,
    });
    expect(signed).toMatchObject({ ok: false, status: 400, body: expect.stringContaining('call_id') });
  });

  it('refuses a route naming a suspended tenant (403), another tenant’s profile or number, or no profile at all', async () => {
    const { call } = await unrecordedCall();
    const other = await unrecordedCall();
    const open = (route: RoutedCall['route'], tenantId = call.tenantId) =>
      openMediaSession({ workerUrl: inject('workerUrl'), callRecordId: call.callRecordId, tenantId, route });
    expect(await open({ ...call.route, aiProfileId: other.call.route.aiProfileId })).toMatchObject({ ok: false, status: 409 });
    expect(await open({ ...call.route, phoneNumberId: other.call.route.phoneNumberId })).toMatchObject({ ok: false, status: 404 });
    const bare = await createTenant();
    const bareNumber = await createPhoneNumber(bare.id, { did_number: randomDid() });
    expect(await open({ ...call.route, phoneNumberId: bareNumber.id, aiProfileId: null }, bare.id)).toMatchObject({
      ok: false,
      status: 409,
      body: expect.stringContaining('no_ai_profile'),
    });
    await api('PATCH', `/api/tenants/${call.tenantId}`, { body: { status: 'suspended' } });
    expect(await open(call.route)).toMatchObject({ ok: false, status: 403 });
    expect(await sessionCallRow(call.callRecordId)).toBeUndefined();
  });

  it('refuses a call whose record exists and has ended, or disagrees with the route (409)', async () => {
    const { call, did } = await unrecordedCall();
    await deliverRecord(call, did);
    const other = await unrecordedCall();
    const mismatched = await openMediaSession({
      workerUrl: inject('workerUrl'),
      ...call,
      route: { ...call.route, callId: other.call.route.callId },
    });
    expect(mismatched).toMatchObject({ ok: false, status: 409, body: expect.stringContaining('route_mismatch') });
    await sendCallEnded(call.route.callId, did);
    const ended = await openMediaSession({ workerUrl: inject('workerUrl'), ...call });
    expect(ended).toMatchObject({ ok: false, status: 409, body: expect.stringContaining('call_ended') });
    expect((await sessionCallRow(call.callRecordId)).session_started_at).toBeNull();
  });

  it('keeps a refusal for want of a model until the record arrives, then records why', async () => {
    const { call, did } = await unrecordedCall({ system_prompt: 'You are a receptionist.\n[emulator] fail=start' });
    const opened = await openMediaSession({ workerUrl: inject('workerUrl'), ...call });
    expect(opened).toMatchObject({ ok: false, status: 503 });
    await deliverRecord(call, did);
    const { row } = await recordedSession(call);
    expect(row.session_end_reason).toBe('model_unavailable');
    expect(row.session_started_at).toBeNull();
  });
});

async function emulatorSession(call: RoutedCall) {
  const record = await emulatorSessionTagged(call.tag);
  if (!record) throw new Error('the emulator has no session for this call');
  return record;
}
