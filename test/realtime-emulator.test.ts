// The realtime model emulator (tools/realtime-emulator.ts), driven over a WebSocket exactly as the
// VCA call session drives OpenAI's Realtime API: GA event shapes, 8 kHz μ-law both ways.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearToMulaw, mulawLevelDbfs, mulawSilence, mulawToLinear, mulawTone } from '../tools/g711.ts';
import { type RealtimeEmulator, startRealtimeEmulator } from '../tools/realtime-emulator.ts';
import { connectRealtime, type RealtimeClient, responseAudio, sendCallerAudio, upgradeStatus } from './support/realtime.ts';

const END_CALL_TOOL = {
  type: 'function',
  name: 'end_call',
  description: 'Hang up after your last words.',
  parameters: { type: 'object', properties: { reason: { type: 'string' } }, required: ['reason'] },
};

/** The session.update the call session sends: μ-law both ways, server VAD, transcription, end_call. */
function sessionUpdate(instructions: string, turnDetection: Record<string, unknown> = {}) {
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions,
      output_modalities: ['audio'],
      audio: {
        input: {
          format: { type: 'audio/pcmu' },
          turn_detection: { type: 'server_vad', silence_duration_ms: 500, ...turnDetection },
          transcription: { model: 'gpt-4o-mini-transcribe' },
        },
        output: { format: { type: 'audio/pcmu' }, voice: 'marin' },
      },
      tools: [END_CALL_TOOL],
    },
  };
}

const CALLER_TURN = mulawTone(600, 440, 0.3);
const AFTER_TURN = mulawSilence(700);

describe('the realtime model emulator', () => {
  let emulator: RealtimeEmulator;
  const clients: RealtimeClient[] = [];

  async function startCall(instructions = 'You are a receptionist.', turnDetection: Record<string, unknown> = {}) {
    const client = await connectRealtime(emulator.url);
    clients.push(client);
    const created = await client.next('session.created');
    client.send(sessionUpdate(instructions, turnDetection));
    await client.next('session.updated');
    return { client, sessionId: created.session.id as string };
  }

  /** Greets with `words`, lets the greeting finish, and returns its response.done. */
  async function greet(client: RealtimeClient, words = 'Hello.') {
    client.send({ type: 'response.create', response: { instructions: `Greet the caller. Say exactly: "${words}"` } });
    return client.next('response.done');
  }

  beforeAll(async () => {
    emulator = await startRealtimeEmulator({ log: () => {} });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await emulator?.close();
  });

  it('opens a session the GA way and applies the μ-law session.update', async () => {
    const client = await connectRealtime(emulator.url);
    clients.push(client);
    const created = await client.next('session.created');
    expect(created.event_id).toMatch(/^event_/);
    expect(created.session).toMatchObject({ type: 'realtime', object: 'realtime.session', model: 'gpt-realtime' });
    expect(created.session.id).toMatch(/^sess_/);

    client.send({ ...sessionUpdate('Be brief.'), event_id: 'evt_1' });
    const updated = await client.next('session.updated');
    expect(updated.session.instructions).toBe('Be brief.');
    expect(updated.session.audio.input).toMatchObject({
      format: { type: 'audio/pcmu' },
      transcription: { model: 'gpt-4o-mini-transcribe' },
      turn_detection: {
        type: 'server_vad',
        silence_duration_ms: 500,
        prefix_padding_ms: 300,
        create_response: true,
        interrupt_response: true,
      },
    });
    expect(updated.session.audio.output).toMatchObject({ format: { type: 'audio/pcmu' }, voice: 'marin' });
    expect(updated.session.tools).toEqual([END_CALL_TOOL]);
  });

  it('speaks the greeting the instructions quote, as paced μ-law deltas with its transcript', async () => {
    const { client, sessionId } = await startCall();
    client.send({ type: 'response.create', response: { instructions: 'Greet the caller. Say exactly: "Welcome to Acme Dental."' } });
    const created = await client.next('response.created');
    expect(created.response).toMatchObject({
      object: 'realtime.response',
      status: 'in_progress',
      output: [],
      output_modalities: ['audio'],
    });
    expect(created.response.conversation_id).toMatch(/^conv_/);
    const id = created.response.id;
    const added = await client.next('response.output_item.added');
    expect(added).toMatchObject({ response_id: id, output_index: 0, item: { type: 'message', role: 'assistant', status: 'in_progress' } });
    const itemId = added.item.id;
    await client.next('conversation.item.added', (event) => event.item.id === itemId);
    await client.next('response.content_part.added');
    const firstAudio = await client.next('response.output_audio.delta');
    expect(firstAudio).toMatchObject({ response_id: id, item_id: itemId, output_index: 0, content_index: 0 });
    const transcriptDone = await client.next('response.output_audio_transcript.done');
    expect(transcriptDone.transcript).toBe('Welcome to Acme Dental.');
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ id, status: 'completed' });
    expect(done.response.output).toEqual([
      expect.objectContaining({
        id: itemId,
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_audio', transcript: 'Welcome to Acme Dental.' }],
      }),
    ]);

    const deltas = client.all('response.output_audio_transcript.delta', (event) => event.response_id === id);
    expect(deltas.map((event) => event.delta).join('')).toBe('Welcome to Acme Dental.');
    const audio = responseAudio(client, id);
    expect(audio.length % 160).toBe(0);
    expect(audio.length / 8).toBeGreaterThan(1000); // a sentence takes a second or more
    expect(mulawLevelDbfs(audio)).toBeGreaterThan(-30);
    expect(emulator.session(sessionId)?.responses[0]).toMatchObject({
      reply: 'scripted',
      status: 'completed',
      text: 'Welcome to Acme Dental.',
    });
  });

  it('greets with its fixed greeting when the instructions quote nothing', async () => {
    const { client } = await startCall();
    client.send({ type: 'response.create', response: { instructions: 'Greet the caller warmly.' } });
    await client.next('response.output_audio.delta'); // the transcript runs ahead of the audio
    const transcript = client.all('response.output_audio_transcript.delta').map((event) => event.delta);
    expect(transcript.join('')).toMatch(/realtime emulator/);
    client.send({ type: 'response.cancel' });
    await client.next('response.done');
  });

  it('hears a caller turn by its energy and echoes that turn back, marked as an echo', async () => {
    const { client, sessionId } = await startCall();
    await greet(client);
    sendCallerAudio(client, CALLER_TURN);
    sendCallerAudio(client, AFTER_TURN);

    const started = await client.next('input_audio_buffer.speech_started');
    const itemId = started.item_id;
    expect(itemId).toMatch(/^item_/);
    expect(started.audio_start_ms).toBeGreaterThanOrEqual(0);
    const stopped = await client.next('input_audio_buffer.speech_stopped');
    expect(stopped.item_id).toBe(itemId);
    expect(stopped.audio_end_ms).toBeGreaterThanOrEqual(600 + 500);
    expect((await client.next('input_audio_buffer.committed')).item_id).toBe(itemId);
    const userItem = await client.next('conversation.item.added', (event) => event.item.id === itemId);
    expect(userItem.item).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_audio' }] });
    const transcription = await client.next('conversation.item.input_audio_transcription.completed');
    expect(transcription).toMatchObject({ item_id: itemId, content_index: 0, transcript: '[echo] 0.60 s of caller audio' });

    const created = await client.next('response.created');
    const done = await client.next('response.done');
    expect(done.response.status).toBe('completed');
    expect(done.response.output[0].content[0].transcript).toBe('[echo] playing back 0.60 s of caller audio');
    const echo = responseAudio(client, created.response.id);
    expect(Math.abs(echo.length - CALLER_TURN.length)).toBeLessThanOrEqual(160);
    expect(echo.equals(Buffer.from(CALLER_TURN.subarray(0, echo.length)))).toBe(true);

    const record = emulator.session(sessionId);
    expect(record?.caller_turns).toEqual([{ item_id: itemId, audio_ms: 600, committed_at_ms: expect.any(Number) }]);
    expect(record?.caller_audio_bytes).toBe(CALLER_TURN.length + AFTER_TURN.length);
    expect(record?.responses.map((response) => response.trigger)).toEqual(['client', 'server_vad']);
  });

  it('cancels its own answer when the caller barges in, and truncates the answer at what was heard', async () => {
    const { client, sessionId } = await startCall();
    client.send({ type: 'response.create', response: { instructions: 'Greet the caller.' } });
    const created = await client.next('response.created');
    const id = created.response.id;
    const { item_id: itemId } = await client.next('response.output_audio.delta');
    await client.next('response.output_audio.delta');

    sendCallerAudio(client, mulawTone(300));
    const { item_id: callerItemId } = await client.next('input_audio_buffer.speech_started');
    const cancelled = await client.next('response.done');
    expect(cancelled.response).toMatchObject({ id, status: 'cancelled', status_details: { type: 'cancelled', reason: 'turn_detected' } });
    expect(cancelled.response.output[0].status).toBe('incomplete');
    const sentMs = responseAudio(client, id).length / 8;

    client.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: 150 });
    const truncated = await client.next('conversation.item.truncated');
    expect(truncated).toMatchObject({ item_id: itemId, content_index: 0, audio_end_ms: 150 });
    const [truncation] = emulator.session(sessionId)?.truncations ?? [];
    expect(truncation?.audio_end_ms).toBe(150);
    expect(truncation?.transcript.length).toBeLessThan(cancelled.response.output[0].content[0].transcript.length);

    client.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: sentMs + 1000 });
    const tooLong = await client.next('error');
    expect(tooLong.error).toMatchObject({ type: 'invalid_request_error', param: 'audio_end_ms' });
    expect(tooLong.error.message).toMatch(/already shorter than/);

    sendCallerAudio(client, AFTER_TURN);
    const echo = await client.next('response.done');
    expect(echo.response.status).toBe('completed');
    const lastDelta = client.events.findLastIndex((event) => event.type === 'response.output_audio.delta' && event.response_id === id);
    expect(lastDelta).toBeLessThan(client.events.indexOf(cancelled));

    client.send({ type: 'conversation.item.truncate', item_id: callerItemId, content_index: 0, audio_end_ms: 100 });
    expect((await client.next('error')).error).toMatchObject({
      code: 'unsupported_content_type',
      message: 'Only model output audio messages can be truncated',
    });
  });

  it('stops an answer on response.cancel, and says so when there is nothing to cancel', async () => {
    const { client } = await startCall();
    client.send({ type: 'response.create', response: { instructions: 'Greet the caller.' } });
    await client.next('response.output_audio.delta');
    client.send({ type: 'response.cancel' });
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ status: 'cancelled', status_details: { type: 'cancelled', reason: 'client_cancelled' } });
    client.send({ type: 'response.cancel', event_id: 'evt_cancel' });
    const error = await client.next('error');
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'response_cancel_not_active', event_id: 'evt_cancel' });
  });

  it('takes a DTMF digit as a user text item and acknowledges it on the next response.create', async () => {
    const { client, sessionId } = await startCall();
    client.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: '5' }] },
    });
    const added = await client.next('conversation.item.added');
    expect(added.item).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_text', text: '5' }] });
    await client.next('conversation.item.done');
    expect(client.all('response.created')).toEqual([]); // as OpenAI: an item alone starts no response

    client.send({ type: 'response.create' });
    const transcript = await client.next('response.output_audio_transcript.done');
    expect(transcript.transcript).toBe('[echo] you pressed 5');
    await client.next('response.done');
    expect(emulator.session(sessionId)?.user_texts).toEqual(['5']);
  });

  it('writes a summary out of band, as text, without touching the conversation', async () => {
    const { client } = await startCall();
    await greet(client);
    sendCallerAudio(client, CALLER_TURN);
    sendCallerAudio(client, AFTER_TURN);
    await client.next('response.done');

    client.send({
      type: 'response.create',
      response: {
        conversation: 'none',
        output_modalities: ['text'],
        instructions: 'Summarise the call.',
        metadata: { purpose: 'summary' },
      },
    });
    const created = await client.next('response.created');
    expect(created.response).toMatchObject({ conversation_id: null, output_modalities: ['text'], metadata: { purpose: 'summary' } });
    const text = await client.next('response.output_text.done');
    expect(text.text).toBe('[echo] Summary: the emulator heard 1 caller turn.');
    const deltas = client.all('response.output_text.delta', (event) => event.response_id === created.response.id);
    expect(deltas.map((event) => event.delta).join('')).toBe(text.text);
    const done = await client.next('response.done');
    expect(done.response).toMatchObject({ status: 'completed', metadata: { purpose: 'summary' } });
    expect(done.response.output[0].content).toEqual([{ type: 'output_text', text: text.text }]);
    expect(client.all('conversation.item.added', (event) => event.item.id === text.item_id)).toEqual([]);
    expect(client.all('response.output_audio.delta', (event) => event.response_id === created.response.id)).toEqual([]);
  });

  it('leaves the answer to the client when turn_detection.create_response is false', async () => {
    const { client } = await startCall('You are a receptionist.', { create_response: false });
    sendCallerAudio(client, CALLER_TURN);
    sendCallerAudio(client, AFTER_TURN);
    await client.next('conversation.item.input_audio_transcription.completed');
    expect(client.all('response.created')).toEqual([]);
    client.send({ type: 'response.create' });
    const transcript = await client.next('response.output_audio_transcript.done');
    expect(transcript.transcript).toBe('[echo] playing back 0.60 s of caller audio');
  });

  it('answers malformed and unknown events with OpenAI-shaped errors and stays open', async () => {
    const { client } = await startCall();
    client.send({ type: 'nope', event_id: 'evt_nope' });
    const unknown = await client.next('error');
    expect(unknown.event_id).toMatch(/^event_/);
    expect(unknown.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_value', param: 'type', event_id: 'evt_nope' });
    client.sendRaw('not json');
    expect((await client.next('error')).error.code).toBe('invalid_json');
    client.sendRaw(Buffer.from([1, 2, 3]));
    expect((await client.next('error')).error.code).toBe('invalid_event');
    client.send({ type: 'session.update', session: { instructions: 'x' } });
    expect((await client.next('error')).error).toMatchObject({ code: 'missing_required_parameter', param: 'session.type' });
    client.send({ type: 'session.update', session: { type: 'realtime', input_audio_format: 'g711_ulaw' } });
    expect((await client.next('error')).error).toMatchObject({ code: 'unknown_parameter', param: 'session.input_audio_format' });
    client.send({ type: 'response.create', response: { modalities: ['audio'] } });
    expect((await client.next('error')).error).toMatchObject({ code: 'unknown_parameter', param: 'response.modalities' });
    client.send({ type: 'input_audio_buffer.append', audio: '***' });
    expect((await client.next('error')).error).toMatchObject({ code: 'invalid_value', param: 'audio' });
    client.send({ type: 'conversation.item.truncate', item_id: 'item_missing', content_index: 0, audio_end_ms: 10 });
    expect((await client.next('error')).error.param).toBe('item_id');

    client.send(sessionUpdate('Still here.'));
    expect((await client.next('session.updated')).session.instructions).toBe('Still here.');
  });

  it('refuses a connection without a key (401) and answers a missing model the way OpenAI does', async () => {
    expect(await upgradeStatus(`${emulator.url}?model=gpt-realtime`)).toBe(401);
    const client = await connectRealtime(emulator.url, { model: null });
    clients.push(client);
    const error = await client.next('error');
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'missing_model' });
    expect((await client.closed).code).toBe(4000);
  });

  describe('switches in the session instructions', () => {
    it('[emulator] slow_start_ms holds session.updated back', async () => {
      const client = await connectRealtime(emulator.url);
      clients.push(client);
      await client.next('session.created');
      const sent = Date.now();
      client.send(sessionUpdate('Be slow.\n[emulator] slow_start_ms=400'));
      await client.next('session.updated');
      expect(Date.now() - sent).toBeGreaterThanOrEqual(390);
    });

    it('[emulator] fail=start answers the session.update with a server error and closes', async () => {
      const client = await connectRealtime(emulator.url);
      clients.push(client);
      await client.next('session.created');
      client.send(sessionUpdate('[emulator] fail=start'));
      const error = await client.next('error');
      expect(error.error).toMatchObject({ type: 'server_error', code: 'server_error' });
      expect((await client.closed).code).toBe(1011);
      expect(client.all('session.updated')).toEqual([]);
    });

    it('[emulator] fail_after_ms fails mid-call with an error and a close', async () => {
      const { client, sessionId } = await startCall('You are a receptionist.\n[emulator] fail_after_ms=300');
      client.send({ type: 'response.create', response: { instructions: 'Greet the caller.' } });
      await client.next('response.output_audio.delta');
      const error = await client.next('error');
      expect(error.error.type).toBe('server_error');
      expect((await client.closed).code).toBe(1011);
      expect(emulator.session(sessionId)).toMatchObject({ closed_by_emulator: 'fail_after_ms', directives: { fail_after_ms: 300 } });
    });

    it('[emulator] pace_percent sends the audio slower than real time', async () => {
      const { client, sessionId } = await startCall('You are a receptionist.\n[emulator] pace_percent=50');
      const started = Date.now();
      client.send({ type: 'response.create', response: { instructions: 'Greet the caller.' } });
      await client.next('response.output_audio.done');
      const audioMs = client
        .all('response.output_audio.delta')
        .reduce((ms, delta) => ms + Buffer.from(delta.delta, 'base64').length / 8, 0);
      // Half as fast: the audio takes twice its length to arrive (less the first chunk, sent at once).
      expect(Date.now() - started).toBeGreaterThanOrEqual(2 * audioMs - 2 * 100);
      expect(emulator.session(sessionId)).toMatchObject({ directives: { pace_percent: 50 } });
    });

    it('[emulator] end_call_after_turns says goodbye after that turn, then calls end_call', async () => {
      const { client, sessionId } = await startCall('You are a receptionist.\n[emulator] end_call_after_turns=1');
      await greet(client);
      sendCallerAudio(client, CALLER_TURN);
      sendCallerAudio(client, AFTER_TURN);
      const goodbye = await client.next('response.output_audio_transcript.done');
      expect(goodbye.transcript).toBe('Thank you for calling. Goodbye!');
      const call = await client.next('response.function_call_arguments.done');
      expect(call).toMatchObject({ name: 'end_call', output_index: 1, response_id: goodbye.response_id });
      expect(JSON.parse(call.arguments)).toEqual({ reason: expect.any(String) });
      const done = await client.next('response.done');
      expect(done.response.status).toBe('completed');
      expect(done.response.output.map((item: any) => item.type)).toEqual(['message', 'function_call']);
      expect(done.response.output[1]).toMatchObject({ name: 'end_call', call_id: call.call_id, status: 'completed' });

      client.send({
        type: 'conversation.item.create',
        item: { type: 'function_call_output', call_id: call.call_id, output: '{"ok":true}' },
      });
      await client.next('conversation.item.done', (event) => event.item.type === 'function_call_output');
      expect(emulator.session(sessionId)?.function_call_outputs).toEqual([{ call_id: call.call_id, output: '{"ok":true}' }]);
    });
  });

  describe('switches for every connection', () => {
    it('refuses upgrades with 503 while POST /__emulator/mode says so', async () => {
      const refuse = await fetch(`${emulator.origin}/__emulator/mode`, {
        method: 'POST',
        body: JSON.stringify({ refuse_connections: true }),
      });
      expect(await refuse.json()).toEqual({ refuse_connections: true, slow_start_ms: 0 });
      try {
        expect(await upgradeStatus(`${emulator.url}?model=gpt-realtime`, { authorization: 'Bearer k' })).toBe(503);
      } finally {
        emulator.setMode({ refuse_connections: false });
      }
      expect(await upgradeStatus(`${emulator.url}?model=gpt-realtime`, { authorization: 'Bearer k' })).toBe(101);
    });

    it('holds session.created back while slow_start_ms is set', async () => {
      const response = await fetch(`${emulator.origin}/__emulator/mode`, { method: 'POST', body: JSON.stringify({ slow_start_ms: 400 }) });
      expect(response.status).toBe(200);
      try {
        const opened = Date.now();
        const client = await connectRealtime(emulator.url);
        clients.push(client);
        await client.next('session.created');
        expect(Date.now() - opened).toBeGreaterThanOrEqual(390);
      } finally {
        emulator.setMode({ slow_start_ms: 0 });
      }
    });

    it('rejects a mode it does not know', async () => {
      const response = await fetch(`${emulator.origin}/__emulator/mode`, { method: 'POST', body: JSON.stringify({ slow: true }) });
      expect(response.status).toBe(400);
    });
  });

  it('shows what each connection sent at GET /__emulator/sessions, with no audio in it', async () => {
    const { client, sessionId } = await startCall('Observe me.\n[emulator] end_call_after_turns=3');
    sendCallerAudio(client, mulawSilence(100));
    client.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: '#' }] },
    });
    await client.next('conversation.item.done');
    const { sessions } = (await (await fetch(`${emulator.origin}/__emulator/sessions`)).json()) as { sessions: any[] };
    const record = sessions.find((session: any) => session.session_id === sessionId);
    expect(record).toMatchObject({
      model: 'gpt-realtime',
      instructions: 'Observe me.\n[emulator] end_call_after_turns=3',
      directives: { end_call_after_turns: 3 },
      voice: 'marin',
      tools: ['end_call'],
      caller_audio_bytes: 800,
      user_texts: ['#'],
      events_received: { 'session.update': 1, 'input_audio_buffer.append': 5, 'conversation.item.create': 1 },
    });
    expect(JSON.stringify(record)).not.toMatch(/"audio":"/);
  });

  it('closes a connection that sends more than its inbound limit', async () => {
    const strict = await startRealtimeEmulator({ log: () => {}, maxInboundBytesPerSecond: 20_000 });
    try {
      const client = await connectRealtime(strict.url);
      await client.next('session.created');
      sendCallerAudio(client, mulawSilence(3000)); // ~32 KB of base64 in a burst
      expect((await client.closed).code).toBe(1008);
      expect(strict.sessions()[0]?.closed_by_emulator).toBe('inbound_rate');
    } finally {
      await strict.close();
    }
  });

  it('runs on its own with `node tools/realtime-emulator.ts`, printing its URL', async () => {
    const child = spawn(process.execPath, ['tools/realtime-emulator.ts', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const [url] = await Promise.race([
        new Promise<string[]>((resolve) => createInterface({ input: child.stdout }).once('line', (line) => resolve([line]))),
        new Promise<string[]>((_, reject) => child.once('exit', (code) => reject(new Error(`exited ${code}`)))),
      ]);
      expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1\/realtime$/);
      const client = await connectRealtime(url as string);
      expect((await client.next('session.created')).session.type).toBe('realtime');
      client.close();
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('G.711 μ-law', () => {
  it('decodes the reference code points', () => {
    expect(mulawToLinear(0xff)).toBe(0);
    expect(mulawToLinear(0x7f)).toBe(0);
    expect(mulawToLinear(0x80)).toBe(32124);
    expect(mulawToLinear(0x00)).toBe(-32124);
    expect(mulawToLinear(0xfe)).toBe(8);
    expect(mulawToLinear(0x7e)).toBe(-8);
    expect(mulawToLinear(0xef)).toBe(132);
  });

  it('encodes every decoded value back to its own code (0x7F, negative zero, aside)', () => {
    for (let byte = 0; byte < 256; byte++) if (byte !== 0x7f) expect(linearToMulaw(mulawToLinear(byte))).toBe(byte);
  });
});
