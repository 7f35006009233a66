// A Twilio call's conversation: the voice webhook's TwiML names the stream, a Media Streams client
// connects as Twilio does (signed upgrade, `connected`, `start`, `media` every 20 ms, `dtmf`,
// `stop`) into the call's CallSession, and the realtime model emulator answers behind it.
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { createAiProfile, createPhoneNumber, createTenant } from './support/api.ts';
import { OTHER_TWILIO_ACCOUNT_SID, OTHER_TWILIO_AUTH_TOKEN } from './support/constants.ts';
import { emulatorSessionTagged, endedSession, sessionCallRow } from './support/session-records.ts';
import { randomCallSid, readTwiml, sendVoice, voiceParams } from './support/twilio.ts';
import { openTwilioStream, type TwilioStream } from './support/twilio-media.ts';

const GREETING = 'Thank you for calling Acme Dental, this is the front desk.';

interface TwilioCall {
  tenantId: string;
  callRecordId: string;
  callSid: string;
  streamUrl: string;
  parameters: Record<string, string>;
  tag: string;
}

/** A tenant with a Twilio number and a default profile, and a call to it routed by the voice webhook. */
async function twilioCall(profile: Record<string, unknown> = {}): Promise<TwilioCall> {
  const tenant = await createTenant();
  const number = await createPhoneNumber(tenant.id, { provider_type: 'twilio' });
  const tag = `Reference ${randomUUID()}.`;
  const prompt = String(profile.system_prompt ?? 'You are a helpful receptionist.');
  await createAiProfile(tenant.id, { is_default: true, greeting: GREETING, ...profile, system_prompt: `${prompt}\n${tag}` });
  const params = voiceParams(number.did_number);
  const answer = readTwiml((await sendVoice(params)).text);
  if (!answer.stream) throw new Error('the call was not routed');
  return {
    tenantId: tenant.id,
    callRecordId: answer.stream.parameters.call_record_id as string,
    callSid: params.CallSid as string,
    streamUrl: answer.stream.url,
    parameters: answer.stream.parameters,
    tag,
  };
}

/** Connects as Twilio does and sends `connected` and `start` for the call. */
async function connect(call: TwilioCall, playout: { playoutDelayMs?: number; echoMarks?: boolean } = {}): Promise<TwilioStream> {
  const opened = await openTwilioStream({ workerUrl: inject('workerUrl'), streamUrl: call.streamUrl, ...playout });
  if (!opened.ok) throw new Error(`the stream was refused: ${opened.status} ${opened.body}`);
  opened.stream.begin({ callSid: call.callSid, customParameters: call.parameters });
  return opened.stream;
}

describe('a Twilio Media Stream into the call session', () => {
  it('greets first, as media messages addressed to the stream, 20 ms of μ-law each; stop ends the session as caller_hung_up', async () => {
    const call = await twilioCall();
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() >= 8_000);
    expect(stream.framesSent).toBe(0);
    for (const { message } of stream.events('media')) {
      expect(message).toMatchObject({ event: 'media', streamSid: stream.streamSid });
      expect(Buffer.from(message.media.payload, 'base64')).toHaveLength(160);
    }
    stream.stop(call.callSid);
    const { row, transcript } = await endedSession(call);
    expect(row.session_end_reason).toBe('caller_hung_up');
    expect(row.status).toBe('answered');
    expect(row.answered_at).not.toBeNull();
    expect(transcript.turns[0]).toMatchObject({ role: 'agent' });
    expect(GREETING.startsWith(transcript.turns[0]?.text ?? 'x')).toBe(true);
  });

  it('echoes a caller turn back and keeps both turns in the transcript', async () => {
    const call = await twilioCall({ greeting: 'Hello.' });
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const before = stream.audioBytes();
    await stream.speak(600, 'tone');
    await stream.speak(800, 'silence');
    await stream.until('the echo', () => stream.audioBytes() - before >= 4_600);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    stream.stop(call.callSid);
    const { transcript } = await endedSession(call);
    expect(transcript.turns.map((turn) => turn.role)).toEqual(['agent', 'caller', 'agent']);
    expect(transcript.turns[1]?.text).toMatch(/echo/i);
  });

  it('sends clear when the caller talks over the agent, and keeps of its turn what was heard', async () => {
    const long =
      'Thank you for calling Acme Dental. We are open from nine to five, Monday to Saturday, and closed on public holidays. How can I help you today?';
    const call = await twilioCall({ greeting: long });
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() >= 4_000);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const interruptedAt = Date.now() - stream.opened;
    await stream.speak(500, 'tone');
    await stream.until('the clear', () => stream.events('clear').length > 0);
    const [clear] = stream.events('clear');
    expect(clear?.message).toEqual({ event: 'clear', streamSid: stream.streamSid });
    expect(clear?.at).toBeGreaterThanOrEqual(interruptedAt);
    await stream.speak(800, 'silence');
    stream.stop(call.callSid);
    const { transcript } = await endedSession(call);
    const greeting = transcript.turns[0];
    expect(greeting?.text.length).toBeGreaterThan(0);
    expect(greeting?.text.length).toBeLessThan(long.length);
    expect(long.startsWith(greeting?.text ?? 'x')).toBe(true);
  });

  it('hands a keypad digit to the model as text', async () => {
    const call = await twilioCall({ greeting: 'Hi.' });
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    stream.dtmf('5');
    let heard = '';
    for (let i = 0; i < 50 && !/pressed 5/.test(heard); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      heard = ((await emulatorSessionTagged(call.tag))?.user_texts ?? []).join(' ');
    }
    expect(heard).toMatch(/pressed 5/);
    stream.stop(call.callSid);
    const { transcript } = await endedSession(call);
    expect(transcript.turns.some((turn) => turn.role === 'caller' && turn.text.includes('5'))).toBe(true);
  });

  it('closes the stream when the agent ends the call (Twilio then hangs up), recorded as agent_ended', async () => {
    const call = await twilioCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] end_call_after_turns=1' });
    const stream = await connect(call);
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    await new Promise((resolve) => setTimeout(resolve, 800));
    await stream.speak(400, 'tone');
    await stream.speak(700, 'silence');
    const closed = await stream.closed;
    expect(closed.code).toBe(1000);
    // Twilio has no hang-up message: closing the socket ends the <Connect>. Before it, a mark
    // after the agent's last words, whose echo (they have played) is what the session waited for.
    expect(stream.received.every((entry) => ['media', 'clear', 'mark'].includes(entry.message.event))).toBe(true);
    const last = stream.received.at(-1);
    expect(last?.message).toEqual({ event: 'mark', streamSid: stream.streamSid, mark: { name: expect.any(String) } });
    expect(stream.unplayedAtCloseMs).toBe(0);
    const { row } = await endedSession(call);
    expect(row.session_end_reason).toBe('agent_ended');
  });

  it('hangs up only once Twilio has played the goodbye, however far behind the session’s clock Twilio plays', async () => {
    const call = await twilioCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] end_call_after_turns=1' });
    // A jitter buffer of 1.2 s: the session's own clock would hang up well before the caller heard the end.
    const stream = await connect(call, { playoutDelayMs: 1_200 });
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await stream.speak(400, 'tone');
    await stream.speak(700, 'silence');
    await stream.closed;
    expect(stream.unplayedAtCloseMs).toBe(0);
    const { row, transcript } = await endedSession(call);
    expect(row.session_end_reason).toBe('agent_ended');
    // The caller heard the agent's last turn to its end, so the transcript keeps all of it.
    const lastAgentTurn = transcript.turns.filter((turn) => turn.role === 'agent').at(-1);
    const responses: { conversation: string; text: string }[] = (await emulatorSessionTagged(call.tag))?.responses ?? [];
    const spoken = responses.filter((response) => response.conversation === 'auto').at(-1)?.text;
    expect(lastAgentTurn?.text).toBe(spoken);
  });

  it('still hangs up after the goodbye when Twilio never sends the mark back', async () => {
    const call = await twilioCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] end_call_after_turns=1' });
    const stream = await connect(call, { echoMarks: false });
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    await new Promise((resolve) => setTimeout(resolve, 800));
    await stream.speak(400, 'tone');
    await stream.speak(700, 'silence');
    await stream.until('the mark', () => stream.events('mark').length > 0);
    // No echo comes: the session's own playout clock (and a grace) ends the call instead.
    expect((await stream.closed).code).toBe(1000);
    const { row } = await endedSession(call);
    expect(row.session_end_reason).toBe('agent_ended');
  });

  it('sends nothing and records nothing before Twilio’s start names the call', async () => {
    const call = await twilioCall();
    const opened = await openTwilioStream({ workerUrl: inject('workerUrl'), streamUrl: call.streamUrl });
    if (!opened.ok) throw new Error('refused');
    const stream = opened.stream;
    stream.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(stream.received).toEqual([]);
    expect((await sessionCallRow(call.callRecordId)).session_started_at).toBeNull();
    stream.begin({ callSid: call.callSid, customParameters: call.parameters });
    await stream.until('the greeting', () => stream.audioBytes() > 0);
    stream.stop(call.callSid);
    await endedSession(call);
  });
});

describe('a Twilio Media Stream that is not the call’s', () => {
  it.each([
    ['no signature', null],
    ['another auth token', OTHER_TWILIO_AUTH_TOKEN],
  ])('refuses an upgrade with %s (401) before any model session opens', async (_label, token) => {
    const call = await twilioCall();
    const opened = await openTwilioStream({ workerUrl: inject('workerUrl'), streamUrl: call.streamUrl, token });
    expect(opened).toMatchObject({ ok: false, status: 401 });
    expect(await emulatorSessionTagged(call.tag)).toBeUndefined();
  });

  it('refuses a signature moved to another call’s stream URL (401)', async () => {
    const call = await twilioCall();
    const other = await twilioCall();
    const opened = await openTwilioStream({
      workerUrl: inject('workerUrl'),
      streamUrl: call.streamUrl,
      sendPath: new URL(other.streamUrl).pathname,
    });
    expect(opened).toMatchObject({ ok: false, status: 401 });
    expect(await emulatorSessionTagged(other.tag)).toBeUndefined();
  });

  it('refuses another tenant’s path for the call as unknown (404)', async () => {
    const call = await twilioCall();
    const stranger = await createTenant();
    const url = call.streamUrl.replace(call.tenantId, stranger.id);
    const opened = await openTwilioStream({ workerUrl: inject('workerUrl'), streamUrl: url });
    expect(opened).toMatchObject({ ok: false, status: 404 });
  });

  it.each([
    ['another call’s CallSid', (call: TwilioCall) => ({ callSid: randomCallSid(), customParameters: call.parameters })],
    [
      'another account',
      (call: TwilioCall) => ({ callSid: call.callSid, accountSid: OTHER_TWILIO_ACCOUNT_SID, customParameters: call.parameters }),
    ],
    [
      'another call record id',
      (call: TwilioCall) => ({ callSid: call.callSid, customParameters: { ...call.parameters, call_record_id: randomUUID() } }),
    ],
    ['no call record id', (call: TwilioCall) => ({ callSid: call.callSid, customParameters: {} })],
  ])('closes a stream whose start names %s (1008), and records nothing', async (_label, start) => {
    const call = await twilioCall();
    const opened = await openTwilioStream({ workerUrl: inject('workerUrl'), streamUrl: call.streamUrl });
    if (!opened.ok) throw new Error('refused');
    opened.stream.begin(start(call));
    const closed = await opened.stream.closed;
    expect(closed.code).toBe(1008);
    expect(opened.stream.audio).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const row = await sessionCallRow(call.callRecordId);
    expect(row).toMatchObject({ status: 'initiated', session_started_at: null, session_ended_at: null, session_end_reason: null });
  });

  it('closes a stream that never says which call it is (no start within 5 s), and records the session ended error, never started', {
    timeout: 20_000,
  }, async () => {
    const call = await twilioCall();
    const opened = await openTwilioStream({ workerUrl: inject('workerUrl'), streamUrl: call.streamUrl });
    if (!opened.ok) throw new Error('refused');
    const closed = await opened.stream.closed;
    expect(closed.code).toBe(1008);
    const { row, transcript } = await endedSession(call);
    expect(row).toMatchObject({ session_started_at: null, session_end_reason: 'error' });
    expect(transcript.turns).toEqual([]);
  });
});
