// A Telnyx call's conversation: a routed Telnyx call (recorded as the Call Control webhook records
// it), its stream_url with the call's token, and a media streaming client that connects as Telnyx
// does (`connected`, `start`, `media` every 20 ms, `dtmf`, `stop`) into the call's CallSession,
// with the realtime model emulator behind it. Ending the call from our side goes through Telnyx's
// Call Control API: those tests run their own Worker against their own stand-in for it.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningWorker, startWorker } from '../tools/miniflare-worker.ts';
import { telnyxStreamUrl } from '../worker/telephony/telnyx-media.ts';
import { api, createAiProfile, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { workerBindings } from './support/bindings.ts';
import { PUBLIC_BASE_URL, TELNYX_API_KEY } from './support/constants.ts';
import { emulatorSessionTagged, endedSession, sessionCallRow } from './support/session-records.ts';
import { startTelnyxApi, type TelnyxApi } from './support/telnyx-api.ts';
import { openTelnyxStream, randomCallControlId, type TelnyxStart, type TelnyxStream } from './support/telnyx-media.ts';
import { findLogEntry } from './support/worker-log.ts';

const GREETING = 'Thank you for calling Acme Dental, this is the front desk.';

interface TelnyxCall {
  tenantId: string;
  callRecordId: string;
  /** Telnyx's call_session_id: the call's external_call_id. */
  callSessionId: string;
  callControlId: string;
  /** base64 of the call record id, as the answer command sets it. */
  clientState: string;
  streamUrl: string;
  tag: string;
}

/**
 * A tenant with a Telnyx number and a default profile, and a call to it recorded as the Call
 * Control webhook records call.initiated (the shared resolve-and-record, carrier telnyx); its
 * stream URL is the one VCA writes into actions/answer.
 */
async function telnyxCall(profile: Record<string, unknown> = {}): Promise<TelnyxCall> {
  const tenant = await createTenant();
  const did = randomDid();
  await sql(`insert into phone_numbers (tenant_id, did_number, provider_type) values ($1, $2, 'telnyx')`, [tenant.id, did]);
  const tag = `Reference ${randomUUID()}.`;
  const prompt = String(profile.system_prompt ?? 'You are a helpful receptionist.');
  await createAiProfile(tenant.id, { is_default: true, greeting: GREETING, ...profile, system_prompt: `${prompt}\n${tag}` });
  const callSessionId = randomUUID();
  const { rows } = await sql(`select call_record_id from vca_record_inbound_call($1, $2, $3, now(), 'telnyx')`, [
    did,
    '+13122010094',
    callSessionId,
  ]);
  const callRecordId = rows[0]?.call_record_id as string;
  if (!callRecordId) throw new Error('the call was not recorded');
  const callControlId = randomCallControlId();
  return {
    tenantId: tenant.id,
    callRecordId,
    callSessionId,
    callControlId,
    clientState: Buffer.from(callRecordId).toString('base64'),
    streamUrl: await telnyxStreamUrl(PUBLIC_BASE_URL, TELNYX_API_KEY, { tenantId: tenant.id, callRecordId, callControlId }),
    tag,
  };
}

function routeOf(call: TelnyxCall) {
  return { tenantId: call.tenantId, callRecordId: call.callRecordId, callControlId: call.callControlId };
}

function startOf(call: TelnyxCall): TelnyxStart {
  return { callControlId: call.callControlId, callSessionId: call.callSessionId, clientState: call.clientState };
}

/** Connects as Telnyx does and sends `connected` and `start` for the call. */
async function connect(call: TelnyxCall, workerUrl = inject('workerUrl')): Promise<TelnyxStream> {
  const opened = await openTelnyxStream({ workerUrl, streamUrl: call.streamUrl });
  if (!opened.ok) throw new Error(`the stream was refused: ${opened.status} ${opened.body}`);
  opened.stream.begin(startOf(call));
  return opened.stream;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a Telnyx media stream into the call session', () => {
  it('greets first, in 20 ms media frames of μ-law as Telnyx documents them; stop ends the session as caller_hung_up', async () => {
    const call = await telnyxCall();
    expect((await sessionCallRow(call.callRecordId)).answered_at).toBeNull();
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() >= 8_000);
    expect(stream.framesSent).toBe(0);
    for (const { message } of stream.events('media')) {
      expect(message).toEqual({ event: 'media', media: { payload: expect.any(String) } });
      expect(Buffer.from(message.media.payload, 'base64')).toHaveLength(160);
    }
    stream.stop();
    const { row, transcript } = await endedSession(call);
    expect(row.session_end_reason).toBe('caller_hung_up');
    expect(row.status).toBe('answered');
    expect(row.answered_at).not.toBeNull();
    expect(transcript.turns[0]).toMatchObject({ role: 'agent' });
    expect(GREETING.startsWith(transcript.turns[0]?.text ?? 'x')).toBe(true);
    expect(stream.malformed).toEqual([]);
  });

  it('echoes a caller turn back and keeps both turns in the transcript, for the call’s tenant only', async () => {
    const call = await telnyxCall({ greeting: 'Hello.' });
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    await pause(1_500);
    const before = stream.audioBytes();
    await stream.speak(600, 'tone');
    await stream.speak(800, 'silence');
    await stream.until('the echo', () => stream.audioBytes() - before >= 4_600);
    await pause(1_000);
    stream.stop();
    const { transcript } = await endedSession(call);
    expect(transcript.turns.map((turn) => turn.role)).toEqual(['agent', 'caller', 'agent']);
    expect(transcript.turns[1]?.text).toMatch(/echo/i);
    expect(stream.malformed).toEqual([]);
    const stranger = await createTenant();
    expectProblem(await api('GET', `/api/tenants/${stranger.id}/calls/${call.callRecordId}/transcript`), 404, 'call_not_found');
  });

  it('sends clear when the caller talks over the agent, and keeps of its turn what was heard', async () => {
    const long =
      'Thank you for calling Acme Dental. We are open from nine to five, Monday to Saturday, and closed on public holidays. How can I help you today?';
    const call = await telnyxCall({ greeting: long });
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() >= 4_000);
    await pause(600);
    const interruptedAt = Date.now() - stream.opened;
    await stream.speak(500, 'tone');
    await stream.until('the clear', () => stream.events('clear').length > 0);
    const [clear] = stream.events('clear');
    expect(clear?.message).toEqual({ event: 'clear' });
    expect(clear?.at).toBeGreaterThanOrEqual(interruptedAt);
    await stream.speak(800, 'silence');
    stream.stop();
    const { transcript } = await endedSession(call);
    const greeting = transcript.turns[0];
    expect(greeting?.text.length).toBeGreaterThan(0);
    expect(greeting?.text.length).toBeLessThan(long.length);
    expect(long.startsWith(greeting?.text ?? 'x')).toBe(true);
    expect(stream.malformed).toEqual([]);
  });

  it('hands a keypad digit to the model as text', async () => {
    const call = await telnyxCall({ greeting: 'Hi.' });
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    stream.dtmf('7');
    let heard = '';
    for (let i = 0; i < 50 && !/pressed 7/.test(heard); i++) {
      await pause(100);
      heard = ((await emulatorSessionTagged(call.tag))?.user_texts ?? []).join(' ');
    }
    expect(heard).toMatch(/pressed 7/);
    stream.stop();
    const { transcript } = await endedSession(call);
    expect(transcript.turns.some((turn) => turn.role === 'caller' && turn.text === '[keypad] 7')).toBe(true);
  });

  it('sends nothing and records nothing before Telnyx’s start names the call', async () => {
    const call = await telnyxCall();
    const opened = await openTelnyxStream({ workerUrl: inject('workerUrl'), streamUrl: call.streamUrl });
    if (!opened.ok) throw new Error('refused');
    const stream = opened.stream;
    stream.send({ event: 'connected', version: '1.0.0' });
    await pause(1_000);
    expect(stream.received).toEqual([]);
    expect((await sessionCallRow(call.callRecordId)).session_started_at).toBeNull();
    stream.begin(startOf(call));
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    stream.stop();
    await endedSession(call);
  });

  it('logs the stream’s requests without its token', async () => {
    const call = await telnyxCall();
    const token = new URL(call.streamUrl).pathname.split('/').pop() as string;
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    stream.stop();
    await endedSession(call);
    const refused = await openTelnyxStream({
      workerUrl: inject('workerUrl'),
      streamUrl: call.streamUrl,
      sendPath: `${new URL(call.streamUrl).pathname.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`,
    });
    expect(refused).toMatchObject({ ok: false, status: 401 });
    const logged = `/internal/media/telnyx/${call.tenantId}/${call.callRecordId}/[call_control_id]/[token]`;
    const { entry: accepted } = await findLogEntry((entry) => entry.path === logged && entry.status === 101);
    const { entry: rejected, text } = await findLogEntry((entry) => entry.path === logged && entry.status === 401);
    expect(accepted).toMatchObject({ msg: '[CALL SESSION] media', carrier: 'telnyx', call_record_id: call.callRecordId });
    expect(rejected).toBeDefined();
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.slice(0, -1));
    expect(text).not.toContain(call.callControlId.slice(3));
  });

  it('is documented in the OpenAPI document with its token and its refusals', async () => {
    const spec = await api('GET', '/openapi.json', { token: null });
    const operation = spec.body.paths['/internal/media/telnyx/{tenant_id}/{call_record_id}/{call_control_id}/{token}']?.get;
    expect(operation?.parameters?.map((parameter: { name: string }) => parameter.name)).toEqual([
      'tenant_id',
      'call_record_id',
      'call_control_id',
      'token',
    ]);
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(['101', '401', '403', '404', '409', '503']));
    expect(operation?.description).toMatch(/actions\/hangup/);
  });
});

describe('a Telnyx media stream that is not the call’s', () => {
  /** The URL of `call` with its path changed. */
  const withPath = (call: TelnyxCall, change: (segments: string[]) => string[]) =>
    change(new URL(call.streamUrl).pathname.split('/')).join('/');

  it.each([
    ['no token', (call: TelnyxCall) => withPath(call, (s) => s.slice(0, -1))],
    ['an empty token', (call: TelnyxCall) => withPath(call, (s) => [...s.slice(0, -1), ''])],
    ['a token with one character changed', (call: TelnyxCall) => withPath(call, (s) => [...s.slice(0, -1), flip(s.at(-1) as string)])],
    [
      'a token whose last character is spelt another way (the same bytes, not VCA’s URL)',
      (call: TelnyxCall) => withPath(call, (s) => [...s.slice(0, -1), sameBytesOtherSpelling(s.at(-1) as string)]),
    ],
    [
      'a token made with another API key',
      async (call: TelnyxCall) =>
        new URL(await telnyxStreamUrl(PUBLIC_BASE_URL, 'KEYanotherAccountsApiKey0123456789', routeOf(call))).pathname,
    ],
    ['a token with a segment after it', (call: TelnyxCall) => withPath(call, (s) => [...s, 'x'])],
    [
      'a call_control_id with one character changed',
      (call: TelnyxCall) => withPath(call, (s) => [...s.slice(0, -2), flip(s.at(-2) as string), s.at(-1) as string]),
    ],
    [
      'another call’s call_control_id',
      (call: TelnyxCall) => withPath(call, (s) => [...s.slice(0, -2), encodeURIComponent(randomCallControlId()), s.at(-1) as string]),
    ],
    [
      'no call_control_id (the path of a token that signed none)',
      (call: TelnyxCall) => withPath(call, (s) => [...s.slice(0, -2), s.at(-1) as string]),
    ],
    [
      'a call_control_id that is not URL-encoded text',
      (call: TelnyxCall) => withPath(call, (s) => [...s.slice(0, -2), '%E0%A4%A', s.at(-1) as string]),
    ],
  ])('refuses an upgrade with %s (401) before any model session opens, recording nothing', async (_label, path) => {
    const call = await telnyxCall();
    const opened = await openTelnyxStream({ workerUrl: inject('workerUrl'), streamUrl: call.streamUrl, sendPath: await path(call) });
    expect(opened.ok).toBe(false);
    if (opened.ok) return;
    expect(opened.status).toBe(401);
    expect(JSON.parse(opened.body)).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(opened.body).not.toContain(new URL(call.streamUrl).pathname.split('/').pop());
    expect(await emulatorSessionTagged(call.tag)).toBeUndefined();
    expect(await sessionCallRow(call.callRecordId)).toMatchObject({ status: 'initiated', session_started_at: null, answered_at: null });
  });

  it('refuses another call’s token on this call’s path, and this call’s token under another tenant (401)', async () => {
    const call = await telnyxCall();
    const other = await telnyxCall();
    const otherToken = new URL(other.streamUrl).pathname.split('/').pop() as string;
    const stranger = await createTenant();
    for (const sendPath of [
      withPath(call, (s) => [...s.slice(0, -1), otherToken]),
      withPath(call, (s) => [s[0], s[1], s[2], s[3], stranger.id, s[5], s[6], s[7]] as string[]),
    ]) {
      const opened = await openTelnyxStream({ workerUrl: inject('workerUrl'), streamUrl: call.streamUrl, sendPath });
      expect(opened).toMatchObject({ ok: false, status: 401 });
    }
    expect(await emulatorSessionTagged(call.tag)).toBeUndefined();
    expect(await emulatorSessionTagged(other.tag)).toBeUndefined();
  });

  it('refuses a valid token for a call that is unknown or another tenant’s (404), ended (409), or whose tenant is suspended (403)', async () => {
    const call = await telnyxCall();
    const stranger = await createTenant();
    const open = async (tenantId: string, callRecordId: string) => {
      const streamUrl = await telnyxStreamUrl(PUBLIC_BASE_URL, TELNYX_API_KEY, {
        tenantId,
        callRecordId,
        callControlId: call.callControlId,
      });
      return openTelnyxStream({ workerUrl: inject('workerUrl'), streamUrl });
    };
    expect(await open(call.tenantId, randomUUID())).toMatchObject({ ok: false, status: 404 });
    expect(await open(stranger.id, call.callRecordId)).toMatchObject({ ok: false, status: 404 });

    const ended = await telnyxCall();
    await sql(`update calls set status = 'ended', ended_at = now() where id = $1`, [ended.callRecordId]);
    expect(await open(ended.tenantId, ended.callRecordId)).toMatchObject({ ok: false, status: 409 });

    expect((await api('PATCH', `/api/tenants/${call.tenantId}`, { body: { status: 'suspended' } })).status).toBe(200);
    expect(await open(call.tenantId, call.callRecordId)).toMatchObject({ ok: false, status: 403 });
    expect(await emulatorSessionTagged(call.tag)).toBeUndefined();
  });

  it.each([
    ['another call’s call_session_id', (call: TelnyxCall) => ({ ...startOf(call), callSessionId: randomUUID() })],
    [
      'another call record in client_state',
      (call: TelnyxCall) => ({ ...startOf(call), clientState: Buffer.from(randomUUID()).toString('base64') }),
    ],
    ['no client_state', (call: TelnyxCall) => ({ ...startOf(call), clientState: undefined })],
    ['a client_state that is not base64', (call: TelnyxCall) => ({ ...startOf(call), clientState: '%%% not base64 %%%' })],
    ['another call_control_id than its URL’s', (call: TelnyxCall) => ({ ...startOf(call), callControlId: randomCallControlId() })],
  ])('closes a stream whose start names %s (1008), and records nothing', async (_label, start) => {
    const call = await telnyxCall();
    const opened = await openTelnyxStream({ workerUrl: inject('workerUrl'), streamUrl: call.streamUrl });
    if (!opened.ok) throw new Error('refused');
    opened.stream.begin(start(call));
    const closed = await opened.stream.closed;
    expect(closed.code).toBe(1008);
    expect(opened.stream.audio).toEqual([]);
    await pause(300);
    expect(await sessionCallRow(call.callRecordId)).toMatchObject({
      status: 'initiated',
      answered_at: null,
      session_started_at: null,
      session_ended_at: null,
      session_end_reason: null,
    });
  });
});

describe('ending a Telnyx call from VCA’s side (Call Control actions/hangup)', () => {
  let telnyxApi: TelnyxApi;
  let worker: RunningWorker;
  let logFile: string;

  beforeAll(async () => {
    telnyxApi = await startTelnyxApi();
    logFile = join(mkdtempSync(join(tmpdir(), 'vca-telnyx-media-')), 'worker.log');
    worker = await startWorker(inject('workerScript'), workerBindings({ TELNYX_API_BASE_URL: telnyxApi.url }), logFile);
  });
  afterAll(async () => {
    await worker?.dispose();
    await telnyxApi?.close();
  });

  const commandsFor = (call: TelnyxCall) => telnyxApi.commands.filter((command) => command.callControlId === call.callControlId);

  async function hangupOf(call: TelnyxCall) {
    for (let i = 0; i < 100 && commandsFor(call).length === 0; i++) await pause(50);
    await pause(300);
    return commandsFor(call);
  }

  it('hangs the call up once, at the call_control_id of its URL (the start’s), when the agent ends it (agent_ended)', async () => {
    const call = await telnyxCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] end_call_after_turns=1' });
    const stream = await connect(call, worker.url);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    await pause(800);
    await stream.speak(400, 'tone');
    await stream.speak(700, 'silence');
    expect((await stream.closed).code).toBe(1000);
    // The last words were followed by a mark, which Telnyx sent back once it had played them.
    expect(stream.received.at(-1)?.message).toEqual({ event: 'mark', mark: { name: expect.any(String) } });
    const { row } = await endedSession(call);
    expect(row.session_end_reason).toBe('agent_ended');
    const commands = await hangupOf(call);
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ action: 'hangup', duplicate: false });
    expect(commands[0]?.body).toEqual({
      command_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    });
    const request = telnyxApi.requests.find((entry) => entry.path.includes(encodeURIComponent(call.callControlId)));
    expect(request).toMatchObject({ method: 'POST', authorization: `Bearer ${TELNYX_API_KEY}`, contentType: 'application/json' });
    expect(stream.malformed).toEqual([]);
  });

  it('hangs up a call whose stream it refuses — the model cannot start, the tenant is suspended — so the caller is not left in silence', async () => {
    const unready = await telnyxCall({ system_prompt: 'You are a receptionist.\n[emulator] fail=start' });
    const refused = await openTelnyxStream({ workerUrl: worker.url, streamUrl: unready.streamUrl });
    expect(refused).toMatchObject({ ok: false, status: 503 });
    expect((await hangupOf(unready)).map((command) => command.action)).toEqual(['hangup']);

    const suspended = await telnyxCall();
    expect((await api('PATCH', `/api/tenants/${suspended.tenantId}`, { body: { status: 'suspended' } })).status).toBe(200);
    expect(await openTelnyxStream({ workerUrl: worker.url, streamUrl: suspended.streamUrl })).toMatchObject({ ok: false, status: 403 });
    expect((await hangupOf(suspended)).map((command) => command.action)).toEqual(['hangup']);
  });

  it('never hangs up a live call when a second stream for it is refused (409)', async () => {
    const call = await telnyxCall({ greeting: 'Hi.' });
    const stream = await connect(call, worker.url);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    expect(await openTelnyxStream({ workerUrl: worker.url, streamUrl: call.streamUrl })).toMatchObject({ ok: false, status: 409 });
    await pause(500);
    expect(commandsFor(call)).toEqual([]);
    stream.stop();
    expect((await endedSession(call)).row.session_end_reason).toBe('caller_hung_up');
  });

  it('hangs the call up when the model fails mid-call (model_failed)', async () => {
    const call = await telnyxCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] fail_after_ms=1500' });
    const stream = await connect(call, worker.url);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    await stream.closed;
    const { row } = await endedSession(call);
    expect(row.session_end_reason).toBe('model_failed');
    expect((await hangupOf(call)).map((command) => command.action)).toEqual(['hangup']);
  });

  it('sends no hang-up when Telnyx said the call ended (stop)', async () => {
    const call = await telnyxCall({ greeting: 'Hi.' });
    const stream = await connect(call, worker.url);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    stream.stop();
    const { row } = await endedSession(call);
    expect(row.session_end_reason).toBe('caller_hung_up');
    await pause(500);
    expect(commandsFor(call)).toEqual([]);
  });

  it('hangs up a call whose stream dropped without a stop (the caller would hear silence)', async () => {
    const call = await telnyxCall({ greeting: 'Hi.' });
    const stream = await connect(call, worker.url);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    stream.drop();
    await endedSession(call);
    expect((await hangupOf(call)).map((command) => command.action)).toEqual(['hangup']);
  });

  it('takes a call that is already gone at Telnyx (422 90018) as ended, and logs a refused hang-up without the API key', async () => {
    const gone = await telnyxCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] fail_after_ms=1000' });
    telnyxApi.ended.add(gone.callControlId);
    const first = await connect(gone, worker.url);
    await first.closed;
    expect((await endedSession(gone)).row.session_end_reason).toBe('model_failed');
    // The session's last line comes after its hang-up was answered: nothing was logged as failed before it.
    const { entry: ended, text: goneLog } = await findLogEntry(
      (entry) => entry.msg === '[CALL SESSION] ended' && entry.call_record_id === gone.callRecordId,
      logFile,
    );
    expect(ended).toMatchObject({ reason: 'model_failed' });
    expect(goneLog).not.toMatch(new RegExp(`hang-up failed[^\n]*${gone.callRecordId}`));
    // Asked once, and answered 422 90018 (a command on an ended call is not recorded as one).
    const asked = telnyxApi.requests.filter(
      (request) => request.path === `/v2/calls/${encodeURIComponent(gone.callControlId)}/actions/hangup`,
    );
    expect(asked).toHaveLength(1);
    expect(commandsFor(gone)).toEqual([]);

    const refused = await telnyxCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] fail_after_ms=1000' });
    telnyxApi.refuse = { status: 403, code: '10010', title: 'Forbidden' };
    try {
      const second = await connect(refused, worker.url);
      await second.closed;
      expect((await endedSession(refused)).row.session_end_reason).toBe('model_failed');
      const { entry, text } = await findLogEntry(
        (line) => line.msg === '[CALL SESSION] the Telnyx hang-up failed' && line.call_record_id === refused.callRecordId,
        logFile,
      );
      expect(entry).toMatchObject({ level: 'error', reason: 'refused', status: 403, code: '10010' });
      expect(text).not.toContain(TELNYX_API_KEY);
      expect(text).not.toContain(refused.callControlId);
    } finally {
      telnyxApi.refuse = undefined;
    }
  });

  it('ends a call whose stream is not 8 kHz μ-law at once (1003), records error, and hangs it up', async () => {
    const call = await telnyxCall();
    const opened = await openTelnyxStream({ workerUrl: worker.url, streamUrl: call.streamUrl });
    if (!opened.ok) throw new Error('refused');
    opened.stream.begin({ ...startOf(call), mediaFormat: { encoding: 'PCMA', sample_rate: 8000, channels: 1 } });
    expect((await opened.stream.closed).code).toBe(1003);
    expect(opened.stream.audio).toEqual([]);
    const { row } = await endedSession(call);
    expect(row).toMatchObject({ session_end_reason: 'error', session_started_at: null });
    expect((await hangupOf(call)).map((command) => command.action)).toEqual(['hangup']);
  });

  it('hangs up the URL’s call, never a call_control_id a start names, when the start is not this call’s (no dead air)', async () => {
    for (const start of [
      (call: TelnyxCall) => ({ ...startOf(call), callControlId: randomCallControlId() }),
      (call: TelnyxCall) => ({ ...startOf(call), callSessionId: randomUUID() }),
    ]) {
      const call = await telnyxCall();
      const opened = await openTelnyxStream({ workerUrl: worker.url, streamUrl: call.streamUrl });
      if (!opened.ok) throw new Error('refused');
      const named = start(call);
      opened.stream.begin(named);
      expect((await opened.stream.closed).code).toBe(1008);
      expect((await hangupOf(call)).map((command) => command.action)).toEqual(['hangup']);
      if (named.callControlId !== call.callControlId) {
        expect(telnyxApi.commands.filter((command) => command.callControlId === named.callControlId)).toEqual([]);
      }
      expect(await sessionCallRow(call.callRecordId)).toMatchObject({ session_started_at: null, session_ended_at: null });
    }
  });

  it('hangs up a call whose stream never sends its start within 5 s, and records its session ended error, never started', async () => {
    const call = await telnyxCall();
    const opened = await openTelnyxStream({ workerUrl: worker.url, streamUrl: call.streamUrl });
    if (!opened.ok) throw new Error('refused');
    opened.stream.send({ event: 'connected', version: '1.0.0' });
    expect((await opened.stream.closed).code).toBe(1008);
    expect(opened.stream.audio).toEqual([]);
    const commands = await hangupOf(call);
    expect(commands).toMatchObject([{ action: 'hangup', duplicate: false }]);
    const { row, transcript } = await endedSession(call);
    expect(row).toMatchObject({ status: 'initiated', session_end_reason: 'error', session_started_at: null });
    expect(transcript).toEqual({ call_id: call.callRecordId, turns: [], summary: null });
  });
});

/** One character of a base64url token changed. */
/** The token with its last character's unused low bit set: base64url that decodes to the same 32 bytes. */
function sameBytesOtherSpelling(token: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const twin = alphabet[alphabet.indexOf(token.at(-1) as string) ^ 1] as string;
  const spelt = `${token.slice(0, -1)}${twin}`;
  if (!Buffer.from(spelt, 'base64url').equals(Buffer.from(token, 'base64url'))) throw new Error('not the same bytes');
  return spelt;
}

function flip(token: string): string {
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -2)}${last}${token.slice(-1)}`;
}
