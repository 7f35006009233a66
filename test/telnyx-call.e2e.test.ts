// One Telnyx call from its first webhook to its transcript, through both halves of the Telnyx
// integration as Telnyx would drive them: the signed call.initiated is answered by a command at a
// stand-in for Telnyx's API, the test opens the media WebSocket at exactly the stream_url of that
// command (on the Worker's real address, as Telnyx reaches PUBLIC_BASE_URL) and speaks Telnyx's
// media messages with the command's client_state and the call's ids; the agent ends the call, which
// is hung up through Call Control; Telnyx's call.answered and call.hangup close the record. Nothing
// here is built from the Worker's own helpers: the URL, client_state and ids are the command's.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningWorker, startWorker } from '../tools/miniflare-worker.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, sql } from './support/api.ts';
import { workerBindings } from './support/bindings.ts';
import { PUBLIC_BASE_URL, TELNYX_API_KEY } from './support/constants.ts';
import { endedSession } from './support/session-records.ts';
import { startTelnyxApi, type TelnyxApi } from './support/telnyx-api.ts';
import { openTelnyxStream } from './support/telnyx-media.ts';
import { callAnswered, callHangup, callInitiated, sendTelnyxEvent, telnyxCall } from './support/telnyx-webhooks.ts';
import { findLogEntry } from './support/worker-log.ts';

let telnyxApi: TelnyxApi;
let worker: RunningWorker;
let logFile: string;

beforeAll(async () => {
  telnyxApi = await startTelnyxApi();
  logFile = join(mkdtempSync(join(tmpdir(), 'vca-telnyx-call-')), 'worker.log');
  worker = await startWorker(inject('workerScript'), workerBindings({ TELNYX_API_BASE_URL: telnyxApi.url }), logFile);
});
afterAll(async () => {
  await worker?.dispose();
  await telnyxApi?.close();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(25);
  }
}

describe('a Telnyx call, end to end', () => {
  it('is answered with a stream the session takes, greets, echoes, is ended by the agent and hung up once, and leaves its record and transcript for its tenant only', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id, { provider_type: 'telnyx' });
    await createAiProfile(tenant.id, {
      is_default: true,
      greeting: 'Thank you for calling Acme Dental.',
      system_prompt: 'You are the front desk of a dental practice.\n[emulator] end_call_after_turns=1',
    });
    const call = telnyxCall(number.did_number, { start_time: new Date(Date.now() - 2_000).toISOString() });
    const send = (event: unknown) => sendTelnyxEvent(event, { baseUrl: worker.url });

    // 1. Telnyx: call.initiated. VCA records the call and answers it at Telnyx's API.
    const initiated = await send(callInitiated(call));
    expect(initiated.body, initiated.text).toMatchObject({ outcome: 'answered', call_status: 'ringing' });
    const callRecordId = initiated.body.call_record_id as string;
    const [answer] = telnyxApi.commandsFor(call.call_control_id);
    expect(answer).toMatchObject({ action: 'answer', body: { command_id: `vca-answer-${call.call_session_id}` } });
    const streamUrl = String(answer?.body.stream_url);
    const clientState = String(answer?.body.client_state);
    // Telnyx connects to the URL it was given: PUBLIC_BASE_URL's host, as a WebSocket.
    expect(new URL(streamUrl).origin).toBe(new URL(PUBLIC_BASE_URL.replace(/^http/, 'ws')).origin);

    // Telnyx reports the answer as soon as it has acted on the command, before the stream opens.
    expect((await send(callAnswered(call))).body).toMatchObject({ outcome: 'recorded', call_status: 'answered' });

    // 2. Telnyx opens exactly that stream_url (on the Worker's real address) and starts the stream.
    const opened = await openTelnyxStream({ workerUrl: worker.url, streamUrl });
    if (!opened.ok) throw new Error(`the stream was refused: ${opened.status} ${opened.body}`);
    const stream = opened.stream;
    stream.begin({ callControlId: call.call_control_id, callSessionId: call.call_session_id, clientState });

    // 3. The agent speaks first; then the caller speaks and hears the echo.
    await stream.until('the greeting', () => stream.audioBytes() >= 4_000);
    expect(stream.framesSent).toBe(0);
    await pause(1_500);
    const beforeTurn = stream.audioBytes();
    await stream.speak(500, 'tone');
    await stream.speak(700, 'silence');
    await stream.until('the echo', () => stream.audioBytes() - beforeTurn >= 3_600);

    // 4. The agent ends the call after that turn: the socket closes and the call is hung up, once.
    expect((await stream.closed).code).toBe(1000);
    const hangup = await until('the hang-up', () => telnyxApi.commandsFor(call.call_control_id)[1]);
    await pause(500);
    expect(telnyxApi.commands.filter((command) => command.callControlId === call.call_control_id).map((c) => c.action)).toEqual([
      'answer',
      'hangup',
    ]);
    expect(hangup.body).toEqual({
      command_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    });
    expect(stream.malformed).toEqual([]);

    // 5. Telnyx reports the hang-up VCA asked for.
    const hungUp = await send(callHangup(call, 'normal_clearing', { hangup_source: 'callee', end_time: new Date().toISOString() }));
    expect(hungUp.body).toMatchObject({ outcome: 'recorded', call_record_id: callRecordId, call_status: 'ended', q850_cause: 16 });

    // 6. What the tenant sees: the call ended normally, its session ended by the agent, the transcript and its summary.
    const { row, transcript: body } = await endedSession({ tenantId: tenant.id, callRecordId });
    expect(row).toMatchObject({ status: 'ended', session_end_reason: 'agent_ended' });
    expect(row.session_started_at).not.toBeNull();
    const fetched = await api('GET', `/api/tenants/${tenant.id}/calls/${callRecordId}`);
    expect(fetched.body).toMatchObject({
      id: callRecordId,
      status: 'ended',
      carrier: 'telnyx',
      external_call_id: call.call_session_id,
      called_number: number.did_number,
      hangup_cause: 16,
    });
    expect(fetched.body.duration_seconds).toBeGreaterThanOrEqual(2);
    expect(body.turns.map((turn) => turn.role)).toEqual(['agent', 'caller', 'agent']);
    expect('Thank you for calling Acme Dental.'.startsWith(body.turns[0]?.text ?? 'x')).toBe(true);
    expect(body.turns[1]?.text).toMatch(/echo/i);
    expect(body.summary).toEqual(expect.any(String));

    const stranger = await createTenant();
    expectProblem(await api('GET', `/api/tenants/${stranger.id}/calls/${callRecordId}`), 404, 'call_not_found');
    expectProblem(await api('GET', `/api/tenants/${stranger.id}/calls/${callRecordId}/transcript`), 404, 'call_not_found');

    // The stream's token and the call's control id never reached the log.
    const { entry } = await findLogEntry((line) => line.msg === '[CALL SESSION] ended' && line.call_record_id === callRecordId, logFile);
    expect(entry).toMatchObject({ reason: 'agent_ended' });
    const { text } = await findLogEntry(() => true, logFile);
    const token = new URL(streamUrl).pathname.split('/').pop() as string;
    expect(text).not.toContain(token);
    expect(text).not.toContain(call.call_control_id);
    expect(text).not.toContain(TELNYX_API_KEY);
    const { rows } = await sql('select count(*)::int as n from calls where external_call_id = $1', [call.call_session_id]);
    expect(rows[0]?.n).toBe(1);
  });

  it('ends cleanly when the caller hangs up at Telnyx mid-call and the stream’s stop is lost: call.hangup records the end, the socket’s close ends the session', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id, { provider_type: 'telnyx' });
    await createAiProfile(tenant.id, { is_default: true, greeting: 'Hello, Acme Dental.' });
    const call = telnyxCall(number.did_number, { start_time: new Date(Date.now() - 1_000).toISOString() });
    const send = (event: unknown) => sendTelnyxEvent(event, { baseUrl: worker.url });
    const initiated = await send(callInitiated(call));
    const callRecordId = initiated.body.call_record_id as string;
    const [answer] = telnyxApi.commandsFor(call.call_control_id);
    await send(callAnswered(call));
    const opened = await openTelnyxStream({ workerUrl: worker.url, streamUrl: String(answer?.body.stream_url) });
    if (!opened.ok) throw new Error(`the stream was refused: ${opened.status} ${opened.body}`);
    const stream = opened.stream;
    stream.begin({
      callControlId: call.call_control_id,
      callSessionId: call.call_session_id,
      clientState: String(answer?.body.client_state),
    });
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    await stream.speak(300, 'silence');

    // The caller hangs up: Telnyx's webhook comes while the session is live, and its stop never does.
    const hungUp = await send(callHangup(call, 'normal_clearing', { hangup_source: 'caller', end_time: new Date().toISOString() }));
    expect(hungUp.body).toMatchObject({ outcome: 'recorded', call_record_id: callRecordId, call_status: 'ended', q850_cause: 16 });
    telnyxApi.ended.add(call.call_control_id);
    expect(stream.open).toBe(true);
    stream.close();

    const { row, transcript } = await endedSession({ tenantId: tenant.id, callRecordId });
    expect(row).toMatchObject({ status: 'ended', session_end_reason: 'caller_hung_up' });
    expect(transcript.turns[0]).toMatchObject({ role: 'agent' });
    // The session could not know the call had ended: it asked Telnyx to hang up once, heard "already ended", and logged no failure.
    const { entry, text } = await findLogEntry(
      (line) => line.msg === '[CALL SESSION] ended' && line.call_record_id === callRecordId,
      logFile,
    );
    expect(entry).toMatchObject({ reason: 'caller_hung_up', recorded: true });
    expect(text).not.toMatch(new RegExp(`hang-up failed[^\n]*${callRecordId}`));
    const asked = telnyxApi.requests.filter(
      (request) => request.path === `/v2/calls/${encodeURIComponent(call.call_control_id)}/actions/hangup`,
    );
    expect(asked).toHaveLength(1);
    expect(telnyxApi.commandsFor(call.call_control_id).map((command) => command.action)).toEqual(['answer']);
    // The call's end is the webhook's, with its talk time; the session's end did not change it.
    const fetched = await api('GET', `/api/tenants/${tenant.id}/calls/${callRecordId}`);
    expect(fetched.body).toMatchObject({ status: 'ended', hangup_cause: 16 });
    expect(fetched.body.duration_seconds).toBeGreaterThanOrEqual(1);
  });
});
