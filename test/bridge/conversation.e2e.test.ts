// A routed call's conversation end to end, over real sockets: Asterisk's side of chan_websocket
// (test/support/asterisk-media.ts, as Dial(WebSocket/vca-media/c(ulaw)nf(json),3) does it) → the
// real bridge process → the bundled Worker in workerd → its CallSession Durable Object → the
// realtime model emulator, and the records in Postgres. Nothing here stands in for our own parts.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type RunningWorker, startWorker } from '../../tools/miniflare-worker.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, randomDid, sql } from '../support/api.ts';
import { type AsteriskMediaCall, dialWebSocket, FRAME_MS, ulawLevel, ulawSilence, ulawTone } from '../support/asterisk-media.ts';
import { workerBindings } from '../support/bindings.ts';
import { bridgeEnv, type RunningBridge, startBridge, waitFor } from '../support/bridge.ts';
import { emulatorSessionTagged } from '../support/session-records.ts';
import { startWorkerFront } from '../support/worker-front.ts';
import { findLogEntry } from '../support/worker-log.ts';

interface Route {
  tenantId: string;
  callRecordId: string;
  callId: string;
  tag: string;
}

let bridge: RunningBridge;
const calls: AsteriskMediaCall[] = [];

beforeAll(async () => {
  bridge = await startBridge(bridgeEnv(inject('workerUrl')));
});
afterAll(async () => {
  for (const call of calls) await call.callerHangup().catch(() => {});
  await bridge?.kill();
});

/** A tenant, number and default profile, and a call to it routed by the bridge (the dialplan's CURL). */
async function routeCall(profile: Record<string, unknown> = {}, through = bridge): Promise<Route & { did: string }> {
  const tenant = await createTenant();
  const number = await createPhoneNumber(tenant.id, { did_number: randomDid() });
  const tag = `Reference ${randomUUID()}.`;
  await createAiProfile(tenant.id, {
    is_default: true,
    greeting: 'Hello, Acme Dental.',
    ...profile,
    system_prompt: `${String(profile.system_prompt ?? 'You are a receptionist.')}\n${tag}`,
  });
  await through.routesSynced();
  const callId = `${Date.now()}.${Math.floor(Math.random() * 1e6)}`;
  const inbound = await through.postForm('/inbound', {
    caller_number: '+14155550100',
    called_number: number.did_number,
    call_id: callId,
    timestamp: String(Math.floor(Date.now() / 1000)),
  });
  if (inbound.answer.get('status') !== 'success') throw new Error(`not routed: ${inbound.text}`);
  return { tenantId: tenant.id, callRecordId: inbound.answer.get('call_record_id') as string, callId, tag, did: number.did_number };
}

/** What the dialplan does after success: Dial(WebSocket/vca-media/c(ulaw)nf(json),3) with the call's variables. */
async function handOff(route: Route, through = bridge): Promise<AsteriskMediaCall> {
  const call = await dialWebSocket({
    uri: `${through.url.replace('http:', 'ws:')}/media`,
    protocols: 'media',
    format: 'json',
    autoAnswer: false,
    answerTimeoutMs: 3_000,
    channelVariables: { VCA_CALL_RECORD_ID: route.callRecordId, VCA_CALL_ID: route.callId, VCA_TENANT_ID: route.tenantId },
  });
  calls.push(call);
  return call;
}

const voiced = (frames: Buffer[]) => frames.filter((frame) => ulawLevel(frame) > 200).length;

async function sessionEnd(route: Route) {
  return waitFor('the session’s end on the call record', async () => {
    const { rows } = await sql('select session_end_reason, session_started_at from calls where id = $1', [route.callRecordId]);
    return rows[0]?.session_end_reason ? rows[0] : undefined;
  });
}

async function speak(call: AsteriskMediaCall, ms: number, kind: 'tone' | 'silence') {
  for (let sent = 0; sent < ms; sent += FRAME_MS) {
    call.sendCallerAudio(kind === 'tone' ? ulawTone(FRAME_MS, 440, 8000, (sent / FRAME_MS) * 160) : ulawSilence(FRAME_MS));
    await new Promise((resolve) => setTimeout(resolve, FRAME_MS));
  }
}

describe('a routed call through the bridge', () => {
  it('is answered once the agent is ready, and greeted before the caller says anything', async () => {
    const route = await routeCall();
    const call = await handOff(route);
    await call.answered;
    await waitFor('the greeting', async () => voiced(call.played) >= 10 || undefined);
    expect(call.eventsSent.filter((event) => !event.includes('MEDIA_START'))).toEqual([]);
    await call.callerHangup();
    expect((await sessionEnd(route)).session_end_reason).toBe('caller_hung_up');
  });

  it('hears its own words echoed back, can interrupt the agent, and leaves a transcript and summary for its tenant only', async () => {
    const route = await routeCall({
      greeting: 'Thank you for calling Acme Dental. We are open from nine to five, Monday to Saturday. How may I help you today?',
    });
    const call = await handOff(route);
    await call.answered;
    await waitFor('the greeting', async () => voiced(call.played) >= 10 || undefined);
    // Talk over the greeting: the session flushes Asterisk's queue.
    await speak(call, 500, 'tone');
    await waitFor('FLUSH_MEDIA at Asterisk', async () => call.textReceived.some((text) => text.includes('FLUSH_MEDIA')) || undefined);
    const before = voiced(call.played);
    await speak(call, 800, 'silence');
    // The echo of those 500 ms comes back through Asterisk's playout.
    await waitFor('the echo', async () => voiced(call.played) - before >= 20 || undefined);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await call.callerHangup();
    await sessionEnd(route);

    const transcript = await waitFor('the transcript', async () => {
      const answer = await api('GET', `/api/tenants/${route.tenantId}/calls/${route.callRecordId}/transcript`);
      return answer.body.summary ? answer.body : undefined;
    });
    expect(transcript.turns.map((turn: { role: string }) => turn.role)).toEqual(['agent', 'caller', 'agent']);
    expect(transcript.turns[0].text.length).toBeLessThan(100);
    // The session's last log line counts them (not a word of them).
    const { entry } = await findLogEntry((line) => line.msg === '[CALL SESSION] ended' && line.call_record_id === route.callRecordId);
    expect(entry).toMatchObject({ reason: 'caller_hung_up', turns: 3, recorded: true });
    const stranger = await createTenant();
    const foreign = await api('GET', `/api/tenants/${stranger.id}/calls/${route.callRecordId}/transcript`);
    expect(foreign.status).toBe(404);
  });

  it('is answered when it falls silent and Asterisk sends nothing more (a trunk with silence suppression): the pause still ends its turn', async () => {
    // chan_websocket writes only the frames the core hands it and skips comfort noise, so after
    // the caller's words the stream can simply stop, as a real Asterisk 22.10 call showed. The
    // model's VAD hears silence only as audio: the session must supply the pause.
    const route = await routeCall({ greeting: 'Hi.' });
    const call = await handOff(route);
    await call.answered;
    await waitFor('the greeting', async () => voiced(call.played) >= 5 || undefined);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const before = voiced(call.played);
    await speak(call, 600, 'tone');
    // …and then not a single frame.
    await waitFor('the echo', async () => voiced(call.played) - before >= 20 || undefined, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await call.callerHangup();
    const record = await emulatorSessionTagged(route.tag);
    expect(record.caller_turns).toHaveLength(1);
    // What the session added is silence and bounded: 600 ms of tone, then at most 1 s of it.
    expect(record.caller_audio_bytes).toBe((30 + 50) * 160);
  });

  it('is hung up by the agent with end_call, and the PBX hears HANGUP', async () => {
    const route = await routeCall({ greeting: 'Hi.', system_prompt: 'You are a receptionist.\n[emulator] end_call_after_turns=1' });
    const call = await handOff(route);
    await call.answered;
    await new Promise((resolve) => setTimeout(resolve, 800));
    await speak(call, 400, 'tone');
    await speak(call, 700, 'silence');
    const end = await call.ended;
    expect(end.by).toBe('remote-hangup');
    expect(end.dialStatus).toBe('ANSWER');
    // The session marks the end of the agent's last words and hangs up once Asterisk has played them.
    const commands = call.textReceived.map((text) => (JSON.parse(text) as { command?: string }).command);
    expect(commands.slice(-2)).toEqual(['MARK_MEDIA', 'HANGUP']);
    expect((await sessionEnd(route)).session_end_reason).toBe('agent_ended');
  });

  it('is never answered when its tenant was suspended after routing: the bridge hangs up and Dial reports NOANSWER', async () => {
    const route = await routeCall();
    await api('PATCH', `/api/tenants/${route.tenantId}`, { body: { status: 'suspended' } });
    const call = await handOff(route);
    const end = await call.ended;
    expect(end.dialStatus).toBe('NOANSWER');
    expect(call.textReceived.some((text) => text.includes('ANSWER') && !text.includes('HANGUP'))).toBe(false);
  });

  it('carries 20 calls at once without losing a frame either way', { timeout: 60_000 }, async () => {
    const routes = await Promise.all(Array.from({ length: 20 }, () => routeCall({ greeting: 'Hello.' })));
    const dialled = await Promise.all(routes.map((route) => handOff(route)));
    await Promise.all(dialled.map((call) => call.answered));
    // 3 s of caller speech each, at Asterisk's pace, then silence so each turn ends and is echoed.
    // Each greeting first, so the caller's turn interrupts nothing (and nothing is flushed).
    await Promise.all(dialled.map((call) => waitFor('the greeting', async () => voiced(call.played) >= 5 || undefined)));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const greeted = dialled.map((call) => voiced(call.played));
    await Promise.all(
      dialled.map(async (call) => {
        await speak(call, 3_000, 'tone');
        await speak(call, 1_000, 'silence');
      }),
    );
    await Promise.all(
      dialled.map((call, i) => waitFor('the echo', async () => voiced(call.played) - (greeted[i] ?? 0) >= 145 || undefined)),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const [index, route] of routes.entries()) {
      const call = dialled[index] as AsteriskMediaCall;
      const record = await emulatorSessionTagged(route.tag);
      // Up: every frame Asterisk sent reached the model, then the 1 s of silence the session adds
      // once Asterisk's frames stop (the test's callers go quiet the way a silent trunk does).
      expect(record.caller_audio_bytes).toBe((200 + 50) * 160);
      // Down: every byte of audio the model produced reached Asterisk (nothing was flushed).
      const produced = record.responses.reduce((sum: number, response: { audio_ms: number }) => sum + response.audio_ms * 8, 0);
      const received = call.binaryReceived.reduce((sum, frame) => sum + frame.length, 0);
      expect(received).toBe(produced);
    }
    await Promise.all(dialled.map((call) => call.callerHangup()));
  });
});

describe('a routed call whose record has not reached the Worker yet', () => {
  const INBOUND_BATCH = '/internal/telephony/inbound/batch';

  /** A bridge whose way to the Worker refuses its inbound records for as long as the test says. */
  async function delayedStack(worker: { url: string }) {
    const front = await startWorkerFront(worker.url);
    const through = await startBridge(bridgeEnv(front.url));
    front.refuse(INBOUND_BATCH);
    return {
      front,
      bridge: through,
      close: async () => {
        await through.kill();
        await front.close();
      },
    };
  }

  /** What the dialplan's hangup handler posts after the caller hung up. */
  async function hangupHandler(route: Route & { did: string }, through: RunningBridge, billsec: number) {
    const posted = await through.postForm('/call-ended', {
      call_id: route.callId,
      called_number: route.did,
      caller_number: '+14155550100',
      duration: String(billsec + 2),
      billsec: String(billsec),
      hangup_cause: '16',
      timestamp: String(Math.floor(Date.now() / 1000)),
    });
    expect(posted.status).toBe(202);
  }

  /** The greeting, then 500 ms of the caller, echoed back. */
  async function converse(call: AsteriskMediaCall) {
    await call.answered;
    await waitFor('the greeting', async () => voiced(call.played) >= 5 || undefined);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const before = voiced(call.played);
    await speak(call, 500, 'tone');
    await speak(call, 800, 'silence');
    await waitFor('the echo', async () => voiced(call.played) - before >= 20 || undefined);
    await new Promise((resolve) => setTimeout(resolve, 600));
  }

  async function callRow(id: string) {
    const { rows } = await sql(
      'select tenant_id, status, answered_at, session_started_at, session_end_reason, duration_seconds from calls where id = $1',
      [id],
    );
    return rows[0];
  }

  /** The call's record with its session's end and the call's end, once both have been written. */
  async function recorded(route: Route) {
    return waitFor(
      'the call’s records',
      async () => {
        const row = await callRow(route.callRecordId);
        return row?.session_end_reason && row.status === 'ended' ? row : undefined;
      },
      60_000,
    );
  }

  async function transcriptOf(route: Route) {
    return waitFor('the transcript', async () => {
      const answer = await api('GET', `/api/tenants/${route.tenantId}/calls/${route.callRecordId}/transcript`);
      return answer.status === 200 ? answer.body : undefined;
    });
  }

  it('is greeted and hears its echo as usual; once the Worker takes its record, the call, its transcript and summary are its tenant’s', async () => {
    const stack = await delayedStack({ url: inject('workerUrl') });
    try {
      const route = await routeCall({ greeting: 'Hello, Acme Dental.' }, stack.bridge);
      const call = await handOff(route, stack.bridge);
      await converse(call);
      await call.callerHangup();
      await hangupHandler(route, stack.bridge, 4);
      // The Worker keeps refusing the record: nothing of the call is in Postgres, it waits in the spool.
      await waitFor('the bridge to be refused again', async () => stack.front.refused >= 2 || undefined);
      expect(await callRow(route.callRecordId)).toBeUndefined();
      expect((await stack.bridge.health()).spool.depth).toBeGreaterThanOrEqual(2);

      stack.front.admit();
      const row = await recorded(route);
      expect(row).toMatchObject({ tenant_id: route.tenantId, status: 'ended', session_end_reason: 'caller_hung_up', duration_seconds: 4 });
      expect(row.answered_at).not.toBeNull();
      expect(row.session_started_at).not.toBeNull();
      const transcript = await transcriptOf(route);
      expect(transcript.turns.map((turn: { role: string }) => turn.role)).toEqual(['agent', 'caller', 'agent']);
      expect(transcript.summary).toEqual(expect.any(String));
      const stranger = await createTenant();
      expect((await api('GET', `/api/tenants/${stranger.id}/calls/${route.callRecordId}/transcript`)).status).toBe(404);
    } finally {
      await stack.close();
    }
  });

  describe('and the Worker restarts meanwhile (its Durable Objects’ storage on disk)', () => {
    let persist: string;
    let log: string;
    let worker: RunningWorker;
    const start = () => startWorker(inject('workerScript'), workerBindings(), log, 0, undefined, persist);

    beforeEach(async () => {
      persist = mkdtempSync(join(tmpdir(), 'vca-durable-objects-'));
      log = join(persist, 'worker.log');
      writeFileSync(log, '');
      worker = await start();
    });
    afterEach(async () => {
      await worker?.dispose();
      rmSync(persist, { recursive: true, force: true });
    });

    /** The Worker's log line of this call's session with this message. */
    const sessionLine = (route: Route, msg: string) =>
      waitFor(`“${msg}”`, async () =>
        readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((entry) => entry.msg === msg && entry.call_record_id === route.callRecordId),
      );

    it('after the call: the records kept in the session’s storage are written once the record arrives', { timeout: 120_000 }, async () => {
      const stack = await delayedStack(worker);
      try {
        const route = await routeCall({ greeting: 'Hello, Acme Dental.' }, stack.bridge);
        const call = await handOff(route, stack.bridge);
        await converse(call);
        await call.callerHangup();
        await hangupHandler(route, stack.bridge, 4);
        expect(await sessionLine(route, '[CALL SESSION] ended')).toMatchObject({ reason: 'caller_hung_up', recorded: false });

        await worker.dispose();
        worker = await start();
        stack.front.retarget(worker.url);
        stack.front.admit();
        expect(await recorded(route)).toMatchObject({ tenant_id: route.tenantId, session_end_reason: 'caller_hung_up' });
        const transcript = await transcriptOf(route);
        expect(transcript.turns.map((turn: { role: string }) => turn.role)).toEqual(['agent', 'caller', 'agent']);
        expect(transcript.summary).toEqual(expect.any(String));
      } finally {
        await stack.close();
      }
    });

    it('during the call: the call ends, and what its storage kept is written as ended by error once the record arrives', {
      timeout: 120_000,
    }, async () => {
      const stack = await delayedStack(worker);
      try {
        const route = await routeCall({ greeting: 'Hello, Acme Dental.' }, stack.bridge);
        const call = await handOff(route, stack.bridge);
        await converse(call);
        await worker.dispose();
        // The session's socket went with the Worker: the bridge hangs the caller up.
        expect((await call.ended).dialStatus).toBe('ANSWER');
        await hangupHandler(route, stack.bridge, 3);

        worker = await start();
        stack.front.retarget(worker.url);
        stack.front.admit();
        expect(await recorded(route)).toMatchObject({ tenant_id: route.tenantId, session_end_reason: 'error' });
        const transcript = await transcriptOf(route);
        expect(transcript.turns.map((turn: { role: string }) => turn.role)).toEqual(['agent', 'caller', 'agent']);
        expect(transcript.summary).toBeNull();
      } finally {
        await stack.close();
      }
    });
  });
});
