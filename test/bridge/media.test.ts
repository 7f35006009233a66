// The bridge's media relay as a real process, between the fake Asterisk side of chan_websocket
// (test/support/asterisk-media.ts) and a stand-in for the Worker's media endpoint that checks each
// upgrade's signature with the contract's own verifyWebhook. Every other request the bridge makes
// goes through the stand-in to the suite's real Worker, so each call is routed by a real /inbound.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type * as WS from 'ws';
import { ASTERISK_MEDIA_PREFIX, asteriskMediaTarget, mediaSignedContent } from '../../contract/media.ts';
import { verifyWebhook } from '../../contract/signing.ts';
import { createPhoneNumber, createTenant } from '../support/api.ts';
import {
  type AsteriskMediaCall,
  type DialOptions,
  dialWebSocket,
  ULAW_FRAME_BYTES,
  ulawTone,
  WebSocketDialError,
} from '../support/asterisk-media.ts';
import { bridgeEnv, type RunningBridge, startBridge, waitFor } from '../support/bridge.ts';
import { SIGNING_SECRETS } from '../support/constants.ts';

const { WebSocketServer } = createRequire(import.meta.url)('ws') as typeof WS;

const ANSWER = '{"command":"ANSWER"}';
const HANGUP = '{"command":"HANGUP"}';

interface WorkerSession {
  url: string;
  socket: WS.WebSocket;
  texts: string[];
  frames: Buffer[];
  closed: Promise<{ code: number; reason: string }>;
}

/** How the stand-in answers the next media upgrades: 101, a problem, or never. */
type WorkerAnswer = { accept: true; before?: () => Promise<void> } | { status: number; code: string } | 'never';

/** The Worker's media endpoint, as little of it as the bridge needs: signature, path, then the answer it is told. */
async function startWorkerStandIn(realWorker: string) {
  const upgrades: { url: string; verified: boolean }[] = [];
  const sessions: WorkerSession[] = [];
  const held: Duplex[] = [];
  const state: { answer: WorkerAnswer } = { answer: { accept: true } };
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  const http: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([name]) => name === 'content-type' || name.startsWith('webhook-')),
    ) as Record<string, string>;
    const forwarded = await fetch(`${realWorker}${request.url}`, {
      method: request.method,
      headers,
      body: request.method === 'GET' ? undefined : Buffer.concat(chunks),
    });
    response.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'text/plain' });
    response.end(Buffer.from(await forwarded.arrayBuffer()));
  });

  http.on('upgrade', async (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const url = request.url ?? '';
    const header = (name: string) => request.headers[name] as string | undefined;
    const verified = await verifyWebhook(
      SIGNING_SECRETS,
      { id: header('webhook-id'), timestamp: header('webhook-timestamp'), signature: header('webhook-signature') },
      new TextEncoder().encode(mediaSignedContent(url)),
    );
    upgrades.push({ url, verified });
    const answer = state.answer;
    if (!verified) return refuse(socket, 401, 'invalid_signature');
    if (!url.startsWith(ASTERISK_MEDIA_PREFIX)) return refuse(socket, 404, 'not_found');
    if (answer === 'never') return void held.push(socket);
    if (!('accept' in answer)) return refuse(socket, answer.status, answer.code);
    await answer.before?.();
    wss.handleUpgrade(request, socket, head, (ws) => {
      const session: WorkerSession = {
        url,
        socket: ws,
        texts: [],
        frames: [],
        closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
      };
      ws.on('message', (data: Buffer, binary) => (binary ? session.frames.push(data) : session.texts.push(data.toString())));
      sessions.push(session);
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    upgrades,
    state,
    session: (callRecordId: string) =>
      waitFor('the Worker side of the call', async () =>
        sessions.find((s) => s.url.startsWith(`${ASTERISK_MEDIA_PREFIX}${callRecordId}?`)),
      ),
    close: () => {
      for (const socket of held) socket.destroy();
      for (const session of sessions) session.socket.terminate();
      return new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function refuse(socket: Duplex, status: number, code: string) {
  const body = JSON.stringify({ type: 'about:blank', title: STATUS_CODES[status], status, code });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const epoch = () => String(Math.floor(Date.now() / 1000));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const events = (texts: string[], name: string) => texts.filter((text) => JSON.parse(text).event === name);

interface Route {
  callRecordId: string;
  tenantId: string;
  callId: string;
}

type MediaLine = Record<string, unknown> & { msg: string };

function mediaLines(bridge: RunningBridge): MediaLine[] {
  return bridge
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"[MEDIA]'))
    .map((line) => JSON.parse(line) as MediaLine);
}

function endLine(bridge: RunningBridge, callRecordId: string): Promise<MediaLine> {
  return waitFor('the [MEDIA] ended line', async () =>
    mediaLines(bridge).find((line) => line.msg === '[MEDIA] ended' && line.call_record_id === callRecordId),
  );
}

describe('the media relay between Asterisk and the Worker', () => {
  let worker: Awaited<ReturnType<typeof startWorkerStandIn>>;
  let bridge: RunningBridge;
  let did: string;
  let phoneNumberId: string;
  let otherTenant: { id: string };
  const calls: AsteriskMediaCall[] = [];

  /** A real /inbound through the bridge: the route the bridge now knows. */
  async function routeCall(through = bridge): Promise<Route> {
    const callId = `${epoch()}.${Math.floor(Math.random() * 1e6)}`;
    const inbound = await through.postForm('/inbound', {
      caller_number: '+14155550100',
      called_number: did,
      call_id: callId,
      timestamp: epoch(),
    });
    expect(inbound.answer.get('status')).toBe('success');
    return { callRecordId: inbound.answer.get('call_record_id') as string, tenantId: inbound.answer.get('tenant_id') as string, callId };
  }

  /** Dial(WebSocket/vca-media/c(ulaw)nf(json),3) with the variables the dialplan sets before it. */
  async function dial(route: Route, options: Partial<DialOptions> = {}, through = bridge): Promise<AsteriskMediaCall> {
    const call = await dialWebSocket({
      uri: `${through.url.replace('http:', 'ws:')}/media`,
      answerTimeoutMs: 3_000,
      channelVariables: { VCA_CALL_RECORD_ID: route.callRecordId, VCA_CALL_ID: route.callId, VCA_TENANT_ID: route.tenantId },
      ...options,
    });
    calls.push(call);
    return call;
  }

  beforeAll(async () => {
    worker = await startWorkerStandIn(inject('workerUrl'));
    bridge = await startBridge(bridgeEnv(worker.url));
    const tenant = await createTenant();
    ({ did_number: did, id: phoneNumberId } = await createPhoneNumber(tenant.id));
    otherTenant = await createTenant();
    await bridge.routesSynced();
  });
  beforeEach(() => {
    worker.state.answer = { accept: true };
  });
  afterAll(async () => {
    for (const call of calls) await call.callerHangup();
    await bridge?.kill();
    await worker?.close();
  });

  it('answers Asterisk only after the Worker’s 101, then relays both ways unchanged; the caller hanging up closes the Worker side with 1000', async () => {
    const route = await routeCall();
    let answeredBeforeWorker: boolean | undefined;
    let call: AsteriskMediaCall | undefined;
    worker.state.answer = {
      accept: true,
      before: async () => {
        // The session is still starting (the model connecting): Asterisk must still be waiting.
        await sleep(300);
        answeredBeforeWorker = call?.isAnswered;
      },
    };
    call = await dial(route);
    const session = await worker.session(route.callRecordId);
    await call.answered;
    expect(answeredBeforeWorker).toBe(false);
    expect(call.textReceived[0]).toBe(ANSWER);

    // Signed for exactly this call and tenant, and MEDIA_START passed on first, byte for byte.
    // The whole route the bridge answered with, signed: the Worker needs no call row to start.
    expect(session.url).toBe(
      asteriskMediaTarget({
        call_record_id: route.callRecordId,
        tenant_id: route.tenantId,
        phone_number_id: phoneNumberId,
        ai_profile_id: null,
        call_id: route.callId,
      }),
    );
    expect(worker.upgrades.find((u) => u.url === session.url)?.verified).toBe(true);
    expect(session.texts[0]).toBe(call.mediaStart);

    const up = Array.from({ length: 50 }, (_, i) => ulawTone(20, 440, 8000, i * ULAW_FRAME_BYTES));
    for (const frame of up) call.sendCallerAudio(frame);
    call.sendDtmf('5');
    await waitFor('the caller’s frames and key', async () => session.frames.length === 50 && session.texts.length === 2);
    expect(session.frames).toEqual(up);
    expect(JSON.parse(session.texts[1] as string)).toEqual({ event: 'DTMF_END', channel_id: call.channelId, digit: '5' });

    const down = [1, 2, 3, 25].map((frames, i) => ulawTone(20 * frames, 300 + 100 * i));
    for (const message of down) session.socket.send(message);
    session.socket.send('{"command":"MARK_MEDIA","correlation_id":"t1"}');
    await waitFor('the agent’s audio', async () => call.binaryReceived.length === down.length && call.textReceived.length === 2);
    expect(call.binaryReceived).toEqual(down);
    expect(call.textReceived[1]).toBe('{"command":"MARK_MEDIA","correlation_id":"t1"}');

    await call.callerHangup();
    expect(await session.closed).toEqual({ code: 1000, reason: 'caller hung up' });
    const ended = await endLine(bridge, route.callRecordId);
    expect(ended).toMatchObject({
      level: 'info',
      call_id: route.callId,
      frames_up: 50,
      frames_down: 4,
      frames_dropped: 0,
      why: 'caller_hung_up',
    });
    expect(typeof ended.seconds).toBe('number');
    const lines = mediaLines(bridge).filter((line) => line.call_record_id === route.callRecordId);
    expect(lines.map((line) => line.msg)).toEqual(['[MEDIA] started', '[MEDIA] ended']);
    expect(lines[0]).toMatchObject({ level: 'info', call_id: route.callId, channel_id: call.channelId });
    expect(bridge.output()).not.toContain(SIGNING_SECRETS[0]);
  });

  it('hangs up a call whose record id it never routed, without asking the Worker', async () => {
    const upgrades = worker.upgrades.length;
    const call = await dial({ callRecordId: randomUUID(), tenantId: otherTenant.id, callId: '1790000000.99' });
    const end = await call.ended;
    expect(end).toMatchObject({ by: 'remote-hangup', dialStatus: 'NOANSWER', hangupCause: 16 });
    expect(call.textReceived).toEqual([HANGUP]);
    expect(worker.upgrades.length).toBe(upgrades);
    const refused = await waitFor('the refusal', async () =>
      mediaLines(bridge).find((line) => line.msg === '[MEDIA] refused' && line.call_id === '1790000000.99'),
    );
    expect(refused).toMatchObject({ level: 'warn', reason: 'unknown_call' });
  });

  it.each([
    ['another call id', (route: Route) => ({ ...route, callId: `${route.callId}9` })],
    ['another tenant', (route: Route) => ({ ...route, tenantId: otherTenant.id })],
    ['no tenant', (route: Route) => ({ ...route, tenantId: '' })],
  ])('hangs up a known call record id that arrives with %s', async (_name, change) => {
    const route = await routeCall();
    const upgrades = worker.upgrades.length;
    const call = await dial(change(route));
    expect(await call.ended).toMatchObject({ by: 'remote-hangup', dialStatus: 'NOANSWER' });
    expect(call.textReceived).toEqual([HANGUP]);
    expect(worker.upgrades.length).toBe(upgrades);
    const refused = await waitFor('the refusal', async () =>
      mediaLines(bridge).find((line) => line.msg === '[MEDIA] refused' && line.call_record_id === route.callRecordId),
    );
    expect(refused).toMatchObject({ level: 'warn', reason: 'route_mismatch' });
    // The genuine hand-off still works afterwards.
    const genuine = await dial(route);
    await genuine.answered;
    await genuine.callerHangup();
  });

  it('refuses the plain-text MEDIA_START (it carries no channel variables) with a plain-text HANGUP', async () => {
    const call = await dial(await routeCall(), { format: 'plain-text', channelId: `${epoch()}.4242` });
    expect(await call.ended).toMatchObject({ by: 'remote-hangup', dialStatus: 'NOANSWER' });
    expect(call.textReceived).toEqual(['HANGUP']);
    const refused = await waitFor('the refusal', async () =>
      mediaLines(bridge).find((line) => line.msg === '[MEDIA] refused' && line.reason === 'plain_text_media_start'),
    );
    expect(refused.level).toBe('warn');
  });

  it.each([
    [404, 'not_found'],
    [409, 'call_ended'],
    [503, 'model_unavailable'],
  ])('hangs up unanswered when the Worker refuses the session with %i', async (status, code) => {
    worker.state.answer = { status, code };
    const route = await routeCall();
    const call = await dial(route);
    expect(await call.ended).toMatchObject({ by: 'remote-hangup', dialStatus: 'NOANSWER' });
    expect(call.isAnswered).toBe(false);
    expect(call.textReceived).toEqual([HANGUP]);
    expect(await endLine(bridge, route.callRecordId)).toMatchObject({
      level: 'warn',
      why: `refused:${status}`,
      detail: code,
      frames_up: 0,
    });
    expect((await bridge.health()).media.last_error).toBe(`refused:${status} (${code})`);
  });

  it('hangs up within its start deadline when the Worker never answers, before Dial’s own timeout', async () => {
    worker.state.answer = 'never';
    const route = await routeCall();
    const call = await dial(route, { answerTimeoutMs: 3_000 });
    // The bridge's HANGUP (2.5 s), not Dial's timeout (3 s), so its log says why.
    expect(await call.ended).toMatchObject({ by: 'remote-hangup', dialStatus: 'NOANSWER' });
    expect(call.textReceived).toEqual([HANGUP]);
    expect(await endLine(bridge, route.callRecordId)).toMatchObject({ level: 'warn', why: 'start_timeout' });
  });

  it('a caller who hangs up while the session starts ends the hand-off, and nothing is left open', async () => {
    worker.state.answer = 'never';
    const route = await routeCall();
    const call = await dial(route);
    await waitFor('the Worker upgrade', async () => worker.upgrades.some((u) => u.url.includes(route.callRecordId)));
    await call.callerHangup();
    expect(await endLine(bridge, route.callRecordId)).toMatchObject({ level: 'info', why: 'caller_hung_up' });
    expect(call.textReceived).toEqual([]);
  });

  it('hangs Asterisk up when the Worker closes the session, and says whether it ended or was lost', async () => {
    const ended = await routeCall();
    const endedCall = await dial(ended);
    (await worker.session(ended.callRecordId)).socket.close(1000, 'agent ended the call');
    expect(await endedCall.ended).toMatchObject({ by: 'remote-hangup', dialStatus: 'ANSWER' });
    expect(endedCall.textReceived).toEqual([ANSWER, HANGUP]);
    expect(await endLine(bridge, ended.callRecordId)).toMatchObject({ level: 'info', why: 'session_ended' });

    const lost = await routeCall();
    const lostCall = await dial(lost);
    (await worker.session(lost.callRecordId)).socket.terminate();
    expect(await lostCall.ended).toMatchObject({ by: 'remote-hangup', dialStatus: 'ANSWER' });
    expect(await endLine(bridge, lost.callRecordId)).toMatchObject({ level: 'warn', why: 'worker_lost', detail: 'close 1006' });
  });

  it('relays the Worker’s HANGUP; Asterisk’s close then ends the Worker side as a session end', async () => {
    const route = await routeCall();
    const call = await dial(route);
    const session = await worker.session(route.callRecordId);
    await call.answered;
    session.socket.send(HANGUP);
    expect(await call.ended).toMatchObject({ by: 'remote-hangup', dialStatus: 'ANSWER', hangupCause: 16 });
    expect(await session.closed).toEqual({ code: 1000, reason: 'call ended' });
    expect(await endLine(bridge, route.callRecordId)).toMatchObject({ why: 'session_ended' });
  });

  it('holds the agent’s audio while Asterisk says MEDIA_XOFF, releases it on MEDIA_XON, drops it past 30 s, and empties it on FLUSH_MEDIA', async () => {
    const route = await routeCall();
    const call = await dial(route, { clock: 'manual' });
    const session = await worker.session(route.callRecordId);
    await call.answered;
    const second = (i: number) => ulawTone(2_000, 200 + 10 * i); // 100 frames

    // 900 queued frames: Asterisk says XOFF (relayed to the Worker too).
    for (let i = 0; i < 9; i++) session.socket.send(second(i));
    await waitFor('MEDIA_XOFF', async () => events(session.texts, 'MEDIA_XOFF').length === 1);
    expect(call.binaryReceived).toHaveLength(9);

    // Held: 15 s… up to 30 s; the 16th second is dropped. A mark behind them keeps its place.
    const held = Array.from({ length: 16 }, (_, i) => second(100 + i));
    for (const message of held) session.socket.send(message);
    session.socket.send('{"command":"MARK_MEDIA","correlation_id":"after"}');
    await sleep(300);
    expect(call.binaryReceived).toHaveLength(9);
    expect(call.textReceived).toEqual([ANSWER]);

    // Below 800 queued Asterisk says XON: the bridge sends what fits (200 frames) and holds the rest
    // until the next XOFF/XON, so Asterisk never ignores a message for a full queue.
    call.tick(102);
    await waitFor('the released audio', async () => call.binaryReceived.length === 11);
    expect(call.binaryReceived.slice(9)).toEqual(held.slice(0, 2));
    await waitFor('MEDIA_XOFF again', async () => events(session.texts, 'MEDIA_XOFF').length === 2);
    expect(call.droppedBytes).toBe(0);

    // Barge-in: the flush empties the bridge's hold (and the mark in it) and Asterisk's queue.
    session.socket.send('{"command":"FLUSH_MEDIA"}');
    await waitFor('the flush', async () => call.textReceived.includes('{"command":"FLUSH_MEDIA"}'));
    expect(call.queuedFrames).toBe(0);
    call.tick(1);
    await waitFor('MEDIA_XON', async () => events(session.texts, 'MEDIA_XON').length === 2);
    const fresh = ulawTone(20, 1000);
    session.socket.send(fresh);
    await waitFor('audio after the flush', async () => call.binaryReceived.length === 12);
    expect(call.binaryReceived[11]).toEqual(fresh);
    expect(call.textReceived).toEqual([ANSWER, '{"command":"FLUSH_MEDIA"}']);

    await call.callerHangup();
    expect(await endLine(bridge, route.callRecordId)).toMatchObject({ frames_down: 12, frames_dropped: 1, why: 'caller_hung_up' });
  });

  it('cuts agent audio too long for one Asterisk frame (over 64 KiB) into 400-frame messages, so the call is not dropped', async () => {
    const route = await routeCall();
    const call = await dial(route, { clock: 'manual' });
    const session = await worker.session(route.callRecordId);
    await call.answered;
    const long = ulawTone(12_500, 500); // 625 frames, 100,000 bytes
    session.socket.send(long);
    await waitFor('the agent’s audio', async () => call.binaryReceived.length === 2);
    expect(call.binaryReceived.map((message) => message.length)).toEqual([64_000, 36_000]);
    expect(Buffer.concat(call.binaryReceived)).toEqual(long);
    expect(call.queuedFrames).toBe(625);
    await call.callerHangup();
  });

  it('drops caller frames towards a Worker that stopped reading instead of buffering them without limit', async () => {
    const route = await routeCall();
    const call = await dial(route);
    const session = await worker.session(route.callRecordId);
    await call.answered;
    (session.socket as unknown as { _socket: Duplex })._socket.pause();
    const big = Buffer.alloc(16_000, 0xff);
    for (let i = 0; i < 2_000; i++) call.sendCallerAudio(big); // 32 MB: more than any socket buffer holds
    await call.callerHangup();
    const ended = await endLine(bridge, route.callRecordId);
    expect(ended.frames_dropped).toBeGreaterThan(0);
    expect((ended.frames_up as number) + (ended.frames_dropped as number)).toBe(2_000);
  });

  it('counts hand-offs in /healthz: active, total, refused, last error', async () => {
    const before = (await bridge.health()).media;
    const route = await routeCall();
    const call = await dial(route);
    await call.answered;
    const during = (await bridge.health()).media;
    expect(during).toMatchObject({ active: before.active + 1, total: before.total + 1, refused: before.refused });

    const stranger = await dial({ callRecordId: randomUUID(), tenantId: otherTenant.id, callId: '1790000000.5' });
    await stranger.ended;
    await call.callerHangup();
    await endLine(bridge, route.callRecordId);
    const after = await waitFor('the counters', async () => {
      const media = (await bridge.health()).media;
      return media.active === before.active ? media : undefined;
    });
    expect(after).toEqual({ active: before.active, total: before.total + 2, refused: before.refused + 1, last_error: 'unknown_call' });
    expect((await bridge.health()).status).toBe('ok');
  });

  it.each([
    ['another subprotocol', { protocols: 'chat' }, 'Bad request'],
    ['no subprotocol', { protocols: '' }, 'Bad request'],
    ['another path', { path: '/nope' }, 'URL not found'],
  ])('refuses an upgrade with %s at once', async (_name, change, result) => {
    const { path, ...options } = change as { path?: string; protocols?: string };
    const error = await dialWebSocket({ uri: `${bridge.url.replace('http:', 'ws:')}${path ?? '/media'}`, ...options }).catch((e) => e);
    expect(error).toBeInstanceOf(WebSocketDialError);
    expect((error as WebSocketDialError).result).toBe(result);
  });

  describe('on SIGTERM', () => {
    it('takes no new calls, lets live ones end within the grace, then hangs up the rest and exits', async () => {
      const stopping = await startBridge(bridgeEnv(worker.url, { BRIDGE_SHUTDOWN_GRACE_MS: '1500' }));
      try {
        await stopping.routesSynced();
        const [early, late] = [await routeCall(stopping), await routeCall(stopping)];
        const earlyCall = await dial(early, {}, stopping);
        const lateCall = await dial(late, {}, stopping);
        const earlySession = await worker.session(early.callRecordId);
        const lateSession = await worker.session(late.callRecordId);
        await Promise.all([earlyCall.answered, lateCall.answered]);

        const exited = stopping.kill('SIGTERM');
        await waitFor('stopping', async () => stopping.output().includes('"msg":"stopping"'));
        const refused = await dial(await routeCall(bridge), {}, stopping).catch((e) => e);
        expect(refused).toBeInstanceOf(WebSocketDialError);

        // A call that ends by itself within the grace ends as usual.
        await earlyCall.callerHangup();
        expect(await earlySession.closed).toEqual({ code: 1000, reason: 'caller hung up' });
        // The other is hung up when the grace is over.
        expect(await lateCall.ended).toMatchObject({ by: 'remote-hangup', dialStatus: 'ANSWER' });
        expect(lateCall.textReceived.at(-1)).toBe(HANGUP);
        expect(await lateSession.closed).toEqual({ code: 1000, reason: 'bridge shutting down' });
        expect(await exited).toBe(0);
        expect(await endLine(stopping, early.callRecordId)).toMatchObject({ why: 'caller_hung_up' });
        expect(await endLine(stopping, late.callRecordId)).toMatchObject({ why: 'shutdown' });
        expect(stopping.output()).toContain('"msg":"stopped"');
      } finally {
        await stopping.kill('SIGKILL');
      }
    });
  });
});
