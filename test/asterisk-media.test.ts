// Pins test/support/asterisk-media.ts, the fake Asterisk side of chan_websocket, against a tiny `ws`
// server: if these change, the fake no longer speaks as Asterisk 22.10 does (see the helper's notes).
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type * as WS from 'ws';
import {
  type AsteriskMediaCall,
  controlCommand,
  type DialOptions,
  dialWebSocket,
  linearToUlaw,
  parseControl,
  ULAW_FRAME_BYTES,
  ulawLevel,
  ulawSilence,
  ulawToLinear,
  ulawTone,
  WebSocketDialError,
} from './support/asterisk-media.ts';

const { WebSocketServer } = createRequire(import.meta.url)('ws') as typeof WS;

interface Session {
  socket: WS.WebSocket;
  request: IncomingMessage;
  texts: string[];
  frames: Buffer[];
  closed: Promise<number>;
}

/** The remote end: a ws server on /media that records what the fake Asterisk sends. */
async function startRemote() {
  const upgrades: IncomingMessage[] = [];
  const sessions: Session[] = [];
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has('media') ? 'media' : false) });
  const http = createServer();
  http.on('upgrade', (request, socket, head) => {
    upgrades.push(request);
    if (!request.url?.startsWith('/media')) return socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    wss.handleUpgrade(request, socket, head, (ws) => {
      const session: Session = {
        socket: ws,
        request,
        texts: [],
        frames: [],
        closed: new Promise((resolve) => ws.on('close', (code) => resolve(code))),
      };
      ws.on('message', (data: Buffer, isBinary) => (isBinary ? session.frames.push(data) : session.texts.push(data.toString())));
      sessions.push(session);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    port,
    uri: `ws://127.0.0.1:${port}/media`,
    upgrades,
    session: () => until('a media session', () => sessions[0]),
    close: () => {
      for (const client of wss.clients) client.terminate();
      return new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let remote: Awaited<ReturnType<typeof startRemote>>;
let call: AsteriskMediaCall | undefined;

async function dial(options: Omit<Partial<DialOptions>, 'uri'> = {}) {
  remote = await startRemote();
  call = await dialWebSocket({ uri: remote.uri, clock: 'manual', ...options });
  return { call, session: await remote.session() };
}

afterEach(async () => {
  await call?.callerHangup();
  call = undefined;
  await remote?.close();
});

describe('μ-law frames', () => {
  it('encodes silence as 0xff and a tone that decodes back within G.711 precision', () => {
    expect(linearToUlaw(0)).toBe(0xff);
    for (const sample of [-32000, -1000, -1, 1, 100, 1000, 32000]) {
      expect(Math.abs(ulawToLinear(linearToUlaw(sample)) - sample)).toBeLessThanOrEqual(Math.abs(sample) / 16 + 8);
    }
    expect(ulawSilence()).toEqual(Buffer.alloc(ULAW_FRAME_BYTES, 0xff));
    expect(ulawTone()).toHaveLength(ULAW_FRAME_BYTES);
    expect(ulawLevel(ulawSilence())).toBe(0);
    expect(ulawLevel(ulawTone())).toBeGreaterThan(3000);
  });
});

describe('the fake Asterisk dials a media WebSocket as chan_websocket does', () => {
  it('upgrades like res_websocket_client: v() parameters in the query, subprotocol media, Basic auth, Host with port', async () => {
    const { session } = await dial({ username: 'vca', password: 'secret', uriParams: { call_record_id: 'a1b2', call_id: '1790000000.1' } });
    const headers = session.request.headers;
    expect(session.request.url).toBe('/media?call_record_id=a1b2&call_id=1790000000.1');
    expect(headers['sec-websocket-protocol']).toBe('media');
    expect(headers.authorization).toBe(`Basic ${Buffer.from('vca:secret').toString('base64')}`);
    expect(headers.host).toBe(`127.0.0.1:${remote.port}`);
    expect(headers['sec-websocket-version']).toBe('13');
    expect(headers['sec-websocket-extensions']).toBeUndefined();
    expect(session.socket.protocol).toBe('media');
  });

  it('sends MEDIA_START first, as compact JSON with the channel variables inherited from the caller', async () => {
    const { call, session } = await dial({ channelVariables: { VCA_CALL_RECORD_ID: 'a1b2', VCA_CALL_ID: '1790000000.1' } });
    const first = await until('MEDIA_START', () => session.texts[0]);
    expect(first).toBe(call.mediaStart);
    expect(first.startsWith('{"event":"MEDIA_START","connection_id":"vca-media","channel":"WebSocket/vca-media/0x')).toBe(true);
    const { name, fields } = parseControl(first);
    expect(name).toBe('MEDIA_START');
    expect(fields).toMatchObject({ connection_id: 'vca-media', format: 'ulaw', optimal_frame_size: 160, ptime: 20 });
    expect(fields.channel_id).toMatch(/^\d+\.\d+$/);
    expect(fields.channel_variables).toEqual({
      DIALEDPEERNUMBER: 'vca-media/c(ulaw)nf(json)',
      MEDIA_WEBSOCKET_CONNECTION_ID: 'vca-media',
      MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE: '160',
      VCA_CALL_RECORD_ID: 'a1b2',
      VCA_CALL_ID: '1790000000.1',
    });
  });

  it('sends MEDIA_START byte for byte as a real Asterisk 22.10.1 did for the committed dialplan', async () => {
    // Captured with `core set debug 4 chan_websocket.so` on a call through asterisk/extensions.conf,
    // which sets _VCA_CALL_RECORD_ID, _VCA_CALL_ID, _VCA_TENANT_ID in that order.
    const captured =
      '{"event":"MEDIA_START","connection_id":"vca-media","channel":"WebSocket/vca-media/0x7fdf7000d940","channel_id":"1796138486.38",' +
      '"format":"ulaw","optimal_frame_size":160,"ptime":20,"channel_variables":{"DIALEDPEERNUMBER":"vca-media/c(ulaw)nf(json)",' +
      '"MEDIA_WEBSOCKET_CONNECTION_ID":"vca-media","MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE":"160",' +
      '"VCA_TENANT_ID":"0800c9e1-cb7f-479e-a5db-784c0e3b91a1","VCA_CALL_ID":"1796138486.37","VCA_CALL_RECORD_ID":"357bdc64-381c-4810-bb61-a4ef5b7c567d"}}';
    const { session } = await dial({
      channelId: '1796138486.38',
      channelVariables: {
        VCA_CALL_RECORD_ID: '357bdc64-381c-4810-bb61-a4ef5b7c567d',
        VCA_CALL_ID: '1796138486.37',
        VCA_TENANT_ID: '0800c9e1-cb7f-479e-a5db-784c0e3b91a1',
      },
    });
    const first = await until('MEDIA_START', () => session.texts[0]);
    expect(first.replace(/WebSocket\/vca-media\/0x[0-9a-f]+/, 'WebSocket/vca-media/0x7fdf7000d940')).toBe(captured);
  });

  it('sends the one-line MEDIA_START of f(plain-text), whose fields parse', async () => {
    const { session } = await dial({ format: 'plain-text', channelId: '1790000000.7' });
    const first = await until('MEDIA_START', () => session.texts[0]);
    expect(first).toMatch(
      /^MEDIA_START connection_id:vca-media channel:WebSocket\/vca-media\/0x[0-9a-f]+ channel_id:1790000000\.7 format:ulaw optimal_frame_size:160 ptime:20$/,
    );
    expect(parseControl(first).fields).toMatchObject({ connection_id: 'vca-media', optimal_frame_size: '160', ptime: '20' });
  });

  it('is answered only by ANSWER (dial option n); the caller audio is then one 160-byte frame every 20 ms', async () => {
    const { call, session } = await dial();
    expect(call.isAnswered).toBe(false);
    session.socket.send(controlCommand('json', 'ANSWER'));
    await call.answered;
    call.streamCallerAudio();
    await new Promise((resolve) => setTimeout(resolve, 300));
    call.stopCallerAudio();
    expect(session.frames.length).toBeGreaterThanOrEqual(8);
    expect(session.frames.length).toBeLessThanOrEqual(18);
    for (const frame of session.frames) {
      expect(frame).toHaveLength(160);
      expect(ulawLevel(frame)).toBeGreaterThan(3000);
    }
  });

  it('reports a key press as DTMF_END with the digit', async () => {
    const { call, session } = await dial();
    call.sendDtmf('5');
    const dtmf = await until('DTMF_END', () => session.texts[1]);
    expect(dtmf).toBe(`{"event":"DTMF_END","channel_id":"${call.channelId}","digit":"5"}`);
  });
});

describe('the fake Asterisk plays the remote audio as chan_websocket does', () => {
  it('cuts each message into 160-byte frames, drops a shorter remainder, and plays one frame per tick', async () => {
    const { call, session } = await dial();
    session.socket.send(Buffer.concat([ulawTone(40), ulawSilence(10)])); // 400 bytes
    session.socket.send(ulawTone(10)); // 80 bytes: less than a frame, dropped whole
    await until('both messages', () => call.binaryReceived.length === 2);
    expect(call.queuedFrames).toBe(2);
    expect(call.droppedBytes).toBe(80 + 80);
    call.tick(3);
    expect(call.played).toHaveLength(2);
    expect(call.played.every((frame) => frame.length === 160)).toBe(true);
  });

  it('FLUSH_MEDIA drops the queued audio, and the marks queued with it', async () => {
    const { call, session } = await dial();
    session.socket.send(Buffer.concat([ulawTone(200)])); // 10 frames
    session.socket.send(controlCommand('json', 'MARK_MEDIA', 'reply-1'));
    session.socket.send(ulawTone(100)); // 5 frames
    await until('the audio', () => call.queuedFrames === 15);
    call.tick(2);
    session.socket.send(controlCommand('json', 'FLUSH_MEDIA'));
    session.socket.send(controlCommand('json', 'GET_STATUS'));
    const status = parseControl(await until('STATUS', () => session.texts.find((text) => text.includes('"STATUS"'))));
    expect(status.fields).toMatchObject({ queue_length: 0, queue_full: false, bulk_media: false, media_paused: false });
    call.tick(20);
    expect(call.played).toHaveLength(2);
    expect(session.texts.some((text) => text.includes('MEDIA_MARK_PROCESSED'))).toBe(false);
  });

  it('reports MARK_MEDIA once the audio queued before it has been played', async () => {
    const { call, session } = await dial();
    session.socket.send(ulawTone(60)); // 3 frames
    session.socket.send(controlCommand('json', 'MARK_MEDIA', 'reply-1'));
    await until('the mark', () => call.textReceived.length === 1);
    call.tick(3);
    expect(call.eventsSent).toEqual([]);
    call.tick(1);
    expect(call.eventsSent).toEqual([`{"event":"MEDIA_MARK_PROCESSED","channel_id":"${call.channelId}","correlation_id":"reply-1"}`]);
  });

  it('sends MEDIA_XOFF when 900 frames are queued and MEDIA_XON once fewer than 800 are', async () => {
    const { call, session } = await dial();
    for (let i = 0; i < 9; i++) session.socket.send(ulawSilence(2000)); // 100 frames each
    const xoff = `{"event":"MEDIA_XOFF","channel_id":"${call.channelId}"}`;
    await until('MEDIA_XOFF', () => session.texts.includes(xoff));
    expect(call.queuedFrames).toBe(900);
    call.tick(101); // the check comes before the frame leaves: 800 at the 101st tick is not yet below 800
    expect(session.texts.some((text) => text.includes('MEDIA_XON'))).toBe(false);
    call.tick(1);
    await until('MEDIA_XON', () => session.texts.includes(`{"event":"MEDIA_XON","channel_id":"${call.channelId}"}`));
  });
});

describe('how a call ends, as Asterisk ends it', () => {
  it('the caller hanging up closes the WebSocket with 1000 and no text message before it', async () => {
    const { call, session } = await dial();
    session.socket.send(controlCommand('json', 'ANSWER'));
    await call.answered;
    const end = await call.callerHangup();
    expect(end).toMatchObject({ by: 'caller', closeCode: 1000, dialStatus: 'ANSWER' });
    expect(await session.closed).toBe(1000);
    expect(session.texts).toEqual([call.mediaStart]);
  });

  it('HANGUP from the remote ends the channel with cause 16; before ANSWER, Dial counts it as NOANSWER', async () => {
    const { call, session } = await dial();
    session.socket.send(controlCommand('json', 'HANGUP'));
    expect(await call.ended).toEqual({
      by: 'remote-hangup',
      closeCode: 1000,
      remoteCloseCode: null,
      hangupCause: 16,
      dialStatus: 'NOANSWER',
    });
    expect(await session.closed).toBe(1000);
  });

  it('a close from the remote is answered with CLOSE 1001 (22.8–22.10) and ends an answered call with cause 16', async () => {
    const { call, session } = await dial({ autoAnswer: true });
    session.socket.close(1000);
    expect(await call.ended).toEqual({ by: 'remote-close', closeCode: 1001, remoteCloseCode: 1000, hangupCause: 16, dialStatus: 'ANSWER' });
    expect(await session.closed).toBe(1001);
  });

  it('without ANSWER before the Dial timeout the channel is closed with 1000 and Dial reports NOANSWER', async () => {
    const { call, session } = await dial({ answerTimeoutMs: 100 });
    expect(await call.ended).toMatchObject({ by: 'dial-timeout', closeCode: 1000, dialStatus: 'NOANSWER' });
    expect(await session.closed).toBe(1000);
  });

  it('a refused upgrade fails the Dial after reconnect_attempts tries: CHANUNAVAIL, cause 3', async () => {
    remote = await startRemote();
    const failure = await dialWebSocket({
      uri: `ws://127.0.0.1:${remote.port}/elsewhere`,
      reconnectAttempts: 2,
      reconnectIntervalMs: 10,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WebSocketDialError);
    expect(failure).toMatchObject({ result: 'URL not found', dialStatus: 'CHANUNAVAIL', hangupCause: 3 });
    expect(remote.upgrades).toHaveLength(2);
  });

  it('a binary message bigger than one 64 KiB frame is refused with close 1009 and cause 38', async () => {
    const { call, session } = await dial();
    session.socket.send(Buffer.alloc(70_000, 0xff));
    expect(await call.ended).toMatchObject({ by: 'frame-too-big', closeCode: 1009, hangupCause: 38, dialStatus: 'CHANUNAVAIL' });
    expect(await session.closed).toBe(1009);
  });
});
