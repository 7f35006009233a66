// The Asterisk side of a chan_websocket call, for tests of whatever answers it (the bridge today):
// it dials a ws:// URL the way Dial(WebSocket/<connection>/c(ulaw)nf(json)) does on Asterisk 22.10,
// byte for byte where it matters (handshake, MEDIA_START, 160-byte frames, close codes), and plays
// what it receives the way chan_websocket does (one frame per 20 ms tick, XOFF/XON, FLUSH_MEDIA).
// The WebSocket framing is written here on node:net rather than with `ws`, because `ws` behaves
// unlike Asterisk exactly where tests must see Asterisk: the request headers, a response without a
// subprotocol, and a close that does not wait for the answer.
// Source lines cited as chan_websocket.c:N etc. are Asterisk tag 22.10.1; the protocol itself is
// documented at docs.asterisk.org, Configuration/Channel-Drivers/WebSocket.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { linearToMulaw, mulawToLinear } from '../../tools/g711.ts';
import { uriEncode } from './asterisk-dialplan.ts';

/** One 20 ms frame of 8 kHz G.711 μ-law: MEDIA_START's optimal_frame_size (chan_websocket.c:1410, ulaw 20 × 80 / 10). */
export const ULAW_FRAME_BYTES = 160;
export const FRAME_MS = 20;
/** chan_websocket.c:141-143: the queue of frames towards the caller. */
export const QUEUE_LENGTH_MAX = 1000;
export const QUEUE_XOFF_LEVEL = 900;
export const QUEUE_XON_LEVEL = 800;
/** chan_websocket.c:144: longer text messages are logged and ignored. */
export const MAX_TEXT_MESSAGE_LEN = 128;
/** http_websocket.h (AST_WEBSOCKET_MAX_RX_PAYLOAD_SIZE): header + payload of one received frame. */
export const MAX_RX_FRAME_BYTES = 65535;

export type ControlFormat = 'json' | 'plain-text';

// ---- μ-law audio ---------------------------------------------------------------------------

// The one G.711 implementation of the repository (tools/g711.ts), under this file's names.
export { linearToMulaw as linearToUlaw, mulawToLinear as ulawToLinear } from '../../tools/g711.ts';

/** μ-law silence (0xff encodes 0). */
export function ulawSilence(ms = FRAME_MS): Buffer {
  return Buffer.alloc((ms * ULAW_FRAME_BYTES) / FRAME_MS, 0xff);
}

/** A sine tone in μ-law; `startSample` continues a tone across frames without a click. */
export function ulawTone(ms = FRAME_MS, hz = 440, amplitude = 8000, startSample = 0): Buffer {
  const samples = (ms * ULAW_FRAME_BYTES) / FRAME_MS;
  const audio = Buffer.alloc(samples);
  for (let i = 0; i < samples; i++) audio[i] = linearToMulaw(amplitude * Math.sin((2 * Math.PI * hz * (startSample + i)) / 8000));
  return audio;
}

/** Mean absolute amplitude: tells a tone from silence. */
export function ulawLevel(audio: Buffer): number {
  let sum = 0;
  for (const byte of audio) sum += Math.abs(mulawToLinear(byte));
  return audio.length ? sum / audio.length : 0;
}

// ---- the protocol's text messages ------------------------------------------------------------

/** An event Asterisk sends, or a command it takes: the name plus its fields, in either format. */
export interface ControlMessage {
  name: string;
  fields: Record<string, unknown>;
}

/**
 * Reads a control message as a remote must: JSON `{"event"|"command": …}`, or plain text
 * `NAME key:value key:value` (STOP_MEDIA_BUFFERING / MARK_MEDIA / their events carry a bare id).
 */
export function parseControl(text: string): ControlMessage {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const { event, command, ...fields } = JSON.parse(trimmed) as Record<string, unknown>;
    return { name: String(event ?? command), fields };
  }
  const [name = '', ...words] = trimmed.split(' ');
  const fields: Record<string, unknown> = {};
  for (const word of words) {
    const colon = word.indexOf(':');
    if (colon > 0) fields[word.slice(0, colon)] = word.slice(colon + 1);
    else fields.correlation_id = word;
  }
  return { name, fields };
}

/** A command as a remote sends it to Asterisk in `format` (chan_websocket.c:713-731). */
export function controlCommand(format: ControlFormat, command: string, correlationId?: string): string {
  if (format === 'json') return JSON.stringify(correlationId === undefined ? { command } : { command, correlation_id: correlationId });
  return correlationId === undefined ? command : `${command} ${correlationId}`;
}

// ---- dialing ---------------------------------------------------------------------------------

export interface DialOptions {
  /** websocket_client.conf `uri`, e.g. ws://127.0.0.1:8788/media. */
  uri: string;
  /** websocket_client.conf section name: MEDIA_START's connection_id (chan_websocket.c:1344-1360). */
  connectionId?: string;
  /** websocket_client.conf `protocols`, sent as Sec-WebSocket-Protocol. */
  protocols?: string;
  /** websocket_client.conf `username` / `password`: HTTP Basic on the upgrade. */
  username?: string;
  password?: string;
  /** The dial string's v(...): each name and value URIENCODEd, joined with & (chan_websocket.c:1666). */
  uriParams?: Record<string, string>;
  /** The dial string's f(...). */
  format?: ControlFormat;
  /** false is the dial string's n: only an ANSWER command answers (chan_websocket.c:1173). */
  autoAnswer?: boolean;
  /** Dial()'s timeout: without an answer by then, Dial hangs the WebSocket channel up (NOANSWER). */
  answerTimeoutMs?: number;
  /** The WebSocket channel's own uniqueid (not the caller's). */
  channelId?: string;
  /** Variables the channel inherited from the caller (set there as _NAME), in the order the dialplan set them: JSON MEDIA_START lists them. */
  channelVariables?: Record<string, string>;
  /** websocket_client.conf reconnect_attempts / reconnect_interval / connection_timeout. */
  reconnectAttempts?: number;
  reconnectIntervalMs?: number;
  connectionTimeoutMs?: number;
  /** 'manual': the playout timer only moves on tick(), for exact tests. */
  clock?: 'realtime' | 'manual';
}

/** How the WebSocket channel ended, as Asterisk would report it. */
export interface CallEnd {
  by: 'caller' | 'dial-timeout' | 'remote-hangup' | 'remote-close' | 'frame-too-big' | 'connection-lost';
  /** The close code Asterisk sent, if it sent one. */
  closeCode: number | null;
  /** The close code the remote sent, if it closed first. */
  remoteCloseCode: number | null;
  /** Q.850 cause of the WebSocket channel; once bridged, the caller's HANGUPCAUSE too. */
  hangupCause: number;
  /** What Dial() leaves in DIALSTATUS. */
  dialStatus: 'ANSWER' | 'NOANSWER' | 'CHANUNAVAIL' | 'CANCEL';
}

/** Dial() failed before any MEDIA_START: webchan_call returned -1 (chan_websocket.c:1276-1282). */
export class WebSocketDialError extends Error {
  readonly dialStatus = 'CHANUNAVAIL';
  /** AST_CAUSE_NO_ROUTE_DESTINATION, set by webchan_call. */
  readonly hangupCause = 3;
  readonly result: string;
  constructor(result: string) {
    super(`WebSocket connection failed: ${result}`);
    this.result = result;
  }
}

let channelSequence = 0;

/** Dial(WebSocket/<connectionId>/c(ulaw)[n]f(<format>)[v(...)],<timeout>): connects, sends MEDIA_START. */
export async function dialWebSocket(options: DialOptions): Promise<AsteriskMediaCall> {
  const attempts = Math.max(1, options.reconnectAttempts ?? 1);
  let result = 'Client start error';
  // res_websocket_client.c:249-350: try, sleep reconnect_interval, try again, then give up.
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const { socket, rest } = await upgrade(options);
      return new AsteriskMediaCall(options, socket, rest);
    } catch (error) {
      result = error instanceof HandshakeError ? error.result : 'Client start error';
      if (attempt < attempts) await sleep(options.reconnectIntervalMs ?? 500);
    }
  }
  throw new WebSocketDialError(result);
}

class HandshakeError extends Error {
  readonly result: string;
  constructor(result: string) {
    super(result);
    this.result = result;
  }
}

/** res_http_websocket.c:1448-1512 (request) and 1361-1440 (what it accepts in the response). */
function upgrade(options: DialOptions): Promise<{ socket: Socket; rest: Buffer }> {
  const url = new URL(options.uri);
  const params = Object.entries(options.uriParams ?? {})
    .map(([name, value]) => `${uriEncode(name)}=${uriEncode(value)}`)
    .join('&');
  // res_websocket_client.c:257-267: '?' or '&' depending on whether the uri has a query already.
  const uri = params ? `${options.uri}${url.search ? '&' : '?'}${params}` : options.uri;
  const target = new URL(uri);
  const port = target.port || (target.protocol === 'wss:' ? '443' : '80');
  const resource = `${target.pathname.replace(/^\//, '')}${target.search}`;
  const key = randomBytes(16).toString('base64');
  const auth = options.username && options.password ? Buffer.from(`${options.username}:${options.password}`).toString('base64') : null;
  const protocols = options.protocols ?? 'media';
  const request =
    `GET /${resource} HTTP/1.1\r\n` +
    'Sec-WebSocket-Version: 13\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Host: ${target.hostname}:${port}\r\n` +
    (auth ? `Authorization: Basic ${auth}\r\n` : '') +
    (protocols ? `Sec-WebSocket-Protocol: ${protocols}\r\n` : '') +
    `Sec-WebSocket-Key: ${key}\r\n\r\n`;
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.hostname, port: Number(port) });
    socket.setNoDelay(true); // chan_websocket.c:1145
    let received = Buffer.alloc(0);
    const fail = (result: string) => {
      socket.destroy();
      reject(new HandshakeError(result));
    };
    const timer = setTimeout(() => fail('Client start error'), options.connectionTimeoutMs ?? 500);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.write(request);
    });
    socket.on('error', () => fail('Client start error'));
    socket.on('data', function onData(chunk: Buffer) {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause(); // until the call listens, so no frame sent right after the 101 is lost
      const [statusLine = '', ...lines] = received.subarray(0, end).toString('latin1').split('\r\n');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1];
      if (status !== '101') {
        const results: Record<string, string> = { '400': 'Bad request', '401': 'Unauthorized', '404': 'URL not found' };
        return fail(status ? (results[status] ?? 'Invalid response code') : 'Bad status line');
      }
      const headers = new Map(
        lines.map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
        }),
      );
      if (headers.has('sec-websocket-extensions')) return fail('Not supported');
      const chosen = headers.get('sec-websocket-protocol');
      if (
        chosen !== undefined &&
        !protocols
          .split(',')
          .map((p) => p.trim())
          .includes(chosen)
      )
        return fail('Header mismatch');
      if (headers.get('upgrade')?.toLowerCase() !== 'websocket' || headers.get('connection')?.toLowerCase() !== 'upgrade')
        return fail('Header missing');
      if (headers.get('sec-websocket-accept') !== accept) return fail('Header mismatch');
      resolve({ socket, rest: received.subarray(end + 4) });
    });
  });
}

// ---- the call ----------------------------------------------------------------------------------

type Queued = { kind: 'audio'; frame: Buffer } | { kind: 'control'; text: string };

/** One WebSocket channel after its MEDIA_START. */
export class AsteriskMediaCall {
  readonly format: ControlFormat;
  readonly connectionId: string;
  readonly channelName: string;
  readonly channelId: string;
  /** The MEDIA_START text Asterisk sent. */
  readonly mediaStart: string;
  /** Every text message from the remote, as received. */
  readonly textReceived: string[] = [];
  /** Every binary message from the remote, as received (before framing). */
  readonly binaryReceived: Buffer[] = [];
  /** When each of them arrived at the socket (performance.now()), before the playout queue: for latency. */
  readonly binaryReceivedAt: number[] = [];
  /** Every control message Asterisk sent after MEDIA_START. */
  readonly eventsSent: string[] = [];
  /** Frames handed to the caller, one per tick: what the caller heard. */
  readonly played: Buffer[] = [];
  /** Bytes of the remote's audio Asterisk threw away (short remainders, a full queue). */
  droppedBytes = 0;
  /** Text messages Asterisk ignored: too long, or a command it does not know. */
  readonly ignoredText: string[] = [];
  isAnswered = false;
  readonly answered: Promise<void>;
  readonly ended: Promise<CallEnd>;

  private readonly socket: Socket;
  private readonly queue: Queued[] = [];
  private queueLength = 0; // audio frames only, as frame_queue_length
  private queueFull = false;
  private paused = false;
  private bulk = false;
  private reportDrained = false;
  private leftover = Buffer.alloc(0);
  private mediaDirection: 'both' | 'in' | 'out' = 'both';
  private inbox = Buffer.alloc(0);
  private fragments: { opcode: number; parts: Buffer[] } | null = null;
  private result: CallEnd | null = null;
  private timers: NodeJS.Timeout[] = [];
  private callerAudio: NodeJS.Timeout | null = null;
  private markAnswered: () => void = () => {};
  private markEnded: (end: CallEnd) => void = () => {};

  constructor(options: DialOptions, socket: Socket, rest: Buffer) {
    this.socket = socket;
    this.format = options.format ?? 'json';
    this.connectionId = options.connectionId ?? 'vca-media';
    // chan_websocket.c:1685: "WebSocket/%s/%p".
    this.channelName = `WebSocket/${this.connectionId}/0x${randomBytes(6).toString('hex')}`;
    this.channelId = options.channelId ?? `${Math.floor(Date.now() / 1000)}.${++channelSequence}`;
    this.answered = new Promise((resolve) => (this.markAnswered = resolve));
    this.ended = new Promise((resolve) => (this.markEnded = resolve));

    // Set on the channel before MEDIA_START: by webchan_request (chan_websocket.c:1477-1481), by
    // app_dial (DIALEDPEERNUMBER, the dial string after "WebSocket/"), then the inherited ones.
    const dialString = `${this.connectionId}/c(ulaw)${options.autoAnswer ? '' : 'n'}f(${this.format})`;
    // The inherited ones come last set first: Set() puts a variable at the head of the caller's
    // list (pbx_variables.c:1224), ast_channel_inherit_variables copies that list in order
    // (channel.c:6828), and ast_json_channel_vars walks it (json.c:947), as a real 22.10.1 call showed.
    const variables = {
      DIALEDPEERNUMBER: dialString,
      MEDIA_WEBSOCKET_CONNECTION_ID: this.connectionId,
      MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE: String(ULAW_FRAME_BYTES),
      ...Object.fromEntries(Object.entries(options.channelVariables ?? {}).reverse()),
    };
    // chan_websocket.c:226-260: compact JSON in this key order, or one plain-text line.
    this.mediaStart =
      this.format === 'json'
        ? JSON.stringify({
            event: 'MEDIA_START',
            connection_id: this.connectionId,
            channel: this.channelName,
            channel_id: this.channelId,
            format: 'ulaw',
            optimal_frame_size: ULAW_FRAME_BYTES,
            ptime: FRAME_MS,
            channel_variables: variables,
          })
        : `MEDIA_START connection_id:${this.connectionId} channel:${this.channelName} channel_id:${this.channelId} format:ulaw optimal_frame_size:${ULAW_FRAME_BYTES} ptime:${FRAME_MS}`;

    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.finish('connection-lost', null, null, 38));
    socket.on('error', () => {});
    socket.resume();
    // webchan_call → websocket_handoff_to_channel (chan_websocket.c:1134-1179): MEDIA_START right after
    // the upgrade, then the answer unless n was given.
    this.writeFrame(0x1, Buffer.from(this.mediaStart));
    if (options.autoAnswer) this.answer();
    else if (options.answerTimeoutMs)
      this.timers.push(
        setTimeout(() => {
          if (!this.isAnswered) this.hangup('dial-timeout');
        }, options.answerTimeoutMs),
      );
    // The channel timer runs from the request on, so the queue plays even before the answer
    // (chan_websocket.c:1456, 579-611); Dial hands those frames to the caller as early media.
    if ((options.clock ?? 'realtime') === 'realtime') this.timers.push(setInterval(() => this.tick(), FRAME_MS));
    if (rest.length) this.receive(rest);
  }

  get queuedFrames(): number {
    return this.queueLength;
  }

  // ---- the caller's side

  /** One frame of caller audio, as the core writes it: a binary message of exactly what RTP brought. */
  sendCallerAudio(frame: Buffer): void {
    // webchan_write (chan_websocket.c:1199-1233): nothing while the app's direction is 'out'.
    if (this.result || this.mediaDirection === 'out') return;
    this.writeFrame(0x2, frame);
  }

  /** Caller audio every 20 ms, as the RTP stream of a bridged call delivers it, until stopped. */
  streamCallerAudio(frame: (index: number) => Buffer = (i) => ulawTone(FRAME_MS, 440, 8000, i * ULAW_FRAME_BYTES)): void {
    this.stopCallerAudio();
    let index = 0;
    this.callerAudio = setInterval(() => this.sendCallerAudio(frame(index++)), FRAME_MS);
  }

  stopCallerAudio(): void {
    if (this.callerAudio) clearInterval(this.callerAudio);
    this.callerAudio = null;
  }

  /** The caller pressed a key: the core's DTMF end reaches webchan_send_dtmf_text (chan_websocket.c:1768). */
  sendDtmf(digit: string): void {
    this.sendEvent(
      this.format === 'json'
        ? JSON.stringify({ event: 'DTMF_END', channel_id: this.channelId, digit })
        : `DTMF_END digit:${digit} channel_id:${this.channelId}`,
    );
  }

  /**
   * The caller hung up (or Dial gave up: the same on the wire). webchan_hangup closes with the
   * channel's tech cause, none here, so 1000, and drops the connection without waiting for the
   * remote's CLOSE (chan_websocket.c:1745-1766, res_http_websocket.c:324-368). No text message.
   */
  callerHangup(): Promise<CallEnd> {
    this.hangup('caller');
    return this.ended;
  }

  /** Runs the playout timer `count` times: each tick hands at most one frame to the caller. */
  tick(count = 1): void {
    for (let i = 0; i < count && !this.result; i++) {
      const frame = this.dequeue();
      if (frame) this.played.push(frame);
    }
  }

  /** Resolves with the first text message from the remote that matches, waiting if needed. */
  async nextText(match: (text: string) => boolean = () => true, timeoutMs = 2000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.textReceived.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error('no matching text message from the remote');
      await sleep(5);
    }
  }

  // ---- the remote's messages

  /** dequeue_frame (chan_websocket.c:465-563, 22.10: an empty queue gives the core a null frame). */
  private dequeue(): Buffer | null {
    if (this.paused || this.mediaDirection === 'in') return null;
    if (this.queueFull && this.queueLength < QUEUE_XON_LEVEL) {
      this.queueFull = false;
      this.sendEvent(this.nodataEvent('MEDIA_XON'));
    }
    let item = this.queue.shift();
    if (!item) {
      if (this.reportDrained) {
        this.reportDrained = false;
        this.sendEvent(this.nodataEvent('QUEUE_DRAINED'));
      }
      return null;
    }
    // Marks and MEDIA_BUFFERING_COMPLETED wait in the queue and cost no timeslot.
    while (item?.kind === 'control') {
      this.sendEvent(item.text);
      item = this.queue.shift();
    }
    if (!item) return null;
    this.queueLength--;
    return item.frame;
  }

  /** queue_frame_from_buffer (chan_websocket.c:616-649): XOFF once the queue reaches 900. */
  private enqueue(frame: Buffer): void {
    this.queue.push({ kind: 'audio', frame });
    this.queueLength++;
    if (!this.queueFull && this.queueLength >= QUEUE_XOFF_LEVEL) {
      this.queueFull = true;
      this.sendEvent(this.nodataEvent('MEDIA_XOFF'));
    }
  }

  /** process_binary_message (chan_websocket.c:944-1067). */
  private onBinary(payload: Buffer): void {
    this.binaryReceived.push(payload);
    this.binaryReceivedAt.push(performance.now());
    if (this.mediaDirection === 'in') return; // chan_websocket.c:1117-1124
    // A full queue refuses the whole message; otherwise all of it is queued, even past 1000.
    if (this.queueLength >= QUEUE_LENGTH_MAX) {
      this.droppedBytes += payload.length;
      return;
    }
    let rest = payload;
    if (this.bulk && this.leftover.length > 0) {
      const needed = ULAW_FRAME_BYTES - this.leftover.length;
      this.leftover = Buffer.concat([this.leftover, rest.subarray(0, needed)]);
      if (this.leftover.length < ULAW_FRAME_BYTES) return;
      this.enqueue(this.leftover);
      rest = rest.subarray(needed);
      this.leftover = Buffer.alloc(0);
    }
    if (!this.bulk) this.leftover = Buffer.alloc(0);
    while (rest.length >= ULAW_FRAME_BYTES) {
      this.enqueue(Buffer.from(rest.subarray(0, ULAW_FRAME_BYTES)));
      rest = rest.subarray(ULAW_FRAME_BYTES);
    }
    // Outside START/STOP_MEDIA_BUFFERING a remainder shorter than a frame is dropped.
    if (this.bulk) this.leftover = Buffer.from(rest);
    else this.droppedBytes += rest.length;
  }

  /** process_text_message + handle_command (chan_websocket.c:911-941, 708-909). */
  private onText(payload: Buffer): void {
    const raw = payload.toString('utf8');
    this.textReceived.push(raw);
    if (payload.length === 0 || payload.length > MAX_TEXT_MESSAGE_LEN) {
      this.ignoredText.push(raw);
      return;
    }
    let command: string | undefined;
    let json: Record<string, unknown> = {};
    let data: string | undefined;
    const text = raw.trim();
    if (this.format === 'json') {
      try {
        json = JSON.parse(text) as Record<string, unknown>;
        command = typeof json.command === 'string' ? json.command : undefined;
      } catch {
        this.sendEvent(this.errorEvent('Unable to parse JSON command'));
        return;
      }
    } else {
      const space = text.indexOf(' ');
      command = space < 0 ? text : text.slice(0, space);
      data = space < 0 ? undefined : text.slice(space + 1);
    }
    const correlationId = this.format === 'json' ? (typeof json.correlation_id === 'string' ? json.correlation_id : undefined) : data;
    // ERROR_ON_INVALID_MEDIA_DIRECTION_RTN (chan_websocket.c:688-697).
    const playing = ['START_MEDIA_BUFFERING', 'STOP_MEDIA_BUFFERING', 'MARK_MEDIA', 'PAUSE_MEDIA', 'CONTINUE_MEDIA'];
    if (this.mediaDirection === 'in' && command && playing.includes(command)) {
      this.sendEvent(this.errorEvent(`${command} not supported while media direction is 'in'`));
      return;
    }

    switch (command) {
      case 'ANSWER':
        this.answer();
        return;
      case 'HANGUP':
        // websocket_request_hangup(AST_CAUSE_NORMAL, 1000), then webchan_hangup closes with 1000.
        this.hangup('remote-hangup');
        return;
      case 'START_MEDIA_BUFFERING':
        this.bulk = true;
        return;
      case 'STOP_MEDIA_BUFFERING':
        this.bulk = false;
        // 22.9+: the short remainder is queued as it is, not padded with silence.
        if (this.leftover.length > 0) this.enqueue(this.leftover);
        this.leftover = Buffer.alloc(0);
        this.queue.push({ kind: 'control', text: this.idEvent('MEDIA_BUFFERING_COMPLETED', correlationId) });
        return;
      case 'MARK_MEDIA':
        this.queue.push({ kind: 'control', text: this.idEvent('MEDIA_MARK_PROCESSED', correlationId) });
        return;
      case 'FLUSH_MEDIA':
        // Audio and queued marks alike; the paused and XOFF states stay as they were.
        this.queue.length = 0;
        this.queueLength = 0;
        this.bulk = false;
        this.leftover = Buffer.alloc(0);
        return;
      case 'REPORT_QUEUE_DRAINED':
        this.reportDrained = true;
        return;
      case 'GET_STATUS':
        this.sendEvent(this.statusEvent());
        return;
      case 'PAUSE_MEDIA':
        this.paused = true;
        return;
      case 'CONTINUE_MEDIA':
        this.paused = false;
        return;
      case 'SET_MEDIA_DIRECTION': {
        // The literal "\n" is in Asterisk's error texts (chan_websocket.c:843-901).
        const direction = json.direction;
        if (this.format !== 'json') this.sendEvent(this.errorEvent(`${command} only supports JSON format.\n`));
        else if (typeof direction !== 'string') this.sendEvent(this.errorEvent(`${command} requires a 'direction' parameter.\n`));
        else if (direction !== 'both' && direction !== 'in' && direction !== 'out')
          this.sendEvent(this.errorEvent(`'${direction}' is not a valid direction for ${command}.\n`));
        else this.mediaDirection = direction;
        return;
      }
      default:
        this.ignoredText.push(raw); // "WebSocket %s command unknown", logged only
    }
  }

  // ---- events

  private sendEvent(text: string): void {
    if (this.result) return;
    this.eventsSent.push(text);
    this.writeFrame(0x1, Buffer.from(text));
  }

  private nodataEvent(name: string): string {
    return this.format === 'json' ? JSON.stringify({ event: name, channel_id: this.channelId }) : name;
  }

  private idEvent(name: string, id: string | undefined): string {
    if (this.format === 'json') return JSON.stringify({ event: name, channel_id: this.channelId, correlation_id: id ?? '' });
    return id ? `${name} ${id}` : name;
  }

  private errorEvent(text: string): string {
    return this.format === 'json'
      ? JSON.stringify({ event: 'ERROR', channel_id: this.channelId, error_text: text })
      : `ERROR channel_id:${this.channelId} error_text:${text}`;
  }

  private statusEvent(): string {
    const status = {
      queue_length: this.queueLength,
      xon_level: QUEUE_XON_LEVEL,
      xoff_level: QUEUE_XOFF_LEVEL,
      queue_full: this.queueFull,
      bulk_media: this.bulk,
      media_paused: this.paused,
    };
    if (this.format === 'json') return JSON.stringify({ event: 'STATUS', channel_id: this.channelId, ...status });
    return `STATUS channel_id:${this.channelId} ${Object.entries(status)
      .map(([name, value]) => `${name}:${value}`)
      .join(' ')}`;
  }

  // ---- the channel's life

  private answer(): void {
    if (this.isAnswered || this.result) return;
    this.isAnswered = true;
    this.markAnswered();
  }

  private hangup(by: 'caller' | 'dial-timeout' | 'remote-hangup'): void {
    this.closeWith(1000);
    this.finish(by, 1000, null, 16);
  }

  private closeWith(code: number): void {
    if (this.result || this.socket.destroyed) return;
    const body = Buffer.alloc(2);
    body.writeUInt16BE(code);
    this.writeFrame(0x8, body);
    this.socket.end();
  }

  private finish(by: CallEnd['by'], closeCode: number | null, remoteCloseCode: number | null, hangupCause: number): void {
    if (this.result) return;
    const dialStatus: CallEnd['dialStatus'] = this.isAnswered
      ? 'ANSWER'
      : by === 'caller'
        ? 'CANCEL'
        : hangupCause === 16
          ? 'NOANSWER' // app_dial.c:877-897: cause 16 counts as no answer
          : 'CHANUNAVAIL';
    this.result = { by, closeCode, remoteCloseCode, hangupCause, dialStatus };
    for (const timer of this.timers) clearTimeout(timer);
    this.stopCallerAudio();
    this.markEnded(this.result);
  }

  // ---- WebSocket framing (RFC 6455, client side: every frame masked)

  private writeFrame(opcode: number, payload: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    const length = payload.length;
    const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const frame = Buffer.alloc(header + 4 + length);
    frame[0] = 0x80 | opcode;
    if (length < 126) frame[1] = 0x80 | length;
    else if (length < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
    const mask = randomBytes(4);
    mask.copy(frame, header);
    for (let i = 0; i < length; i++) frame[header + 4 + i] = (payload[i] as number) ^ (mask[i & 3] as number);
    this.socket.write(frame);
  }

  /** ast_websocket_read (res_http_websocket.c:618-760). */
  private receive(chunk: Buffer): void {
    this.inbox = Buffer.concat([this.inbox, chunk]);
    while (!this.result && this.inbox.length >= 2) {
      const first = this.inbox[0] as number;
      const second = this.inbox[1] as number;
      let length = second & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.inbox.length < 4) return;
        length = this.inbox.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.inbox.length < 10) return;
        length = Number(this.inbox.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (second & 0x80) !== 0;
      const mask = masked ? this.inbox.subarray(offset, offset + 4) : null;
      if (masked) offset += 4;
      if (offset + length > MAX_RX_FRAME_BYTES) {
        // "Cannot fit huge websocket frame": CLOSE 1009, then the read error hangs the channel up
        // with AST_CAUSE_NETWORK_OUT_OF_ORDER (chan_websocket.c:1085-1090).
        this.closeWith(1009);
        this.finish('frame-too-big', 1009, null, 38);
        return;
      }
      if (this.inbox.length < offset + length) return;
      const payload = Buffer.from(this.inbox.subarray(offset, offset + length));
      if (mask) for (let i = 0; i < length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
      this.inbox = this.inbox.subarray(offset + length);
      this.onFrame((first & 0x80) !== 0, first & 0x0f, payload);
    }
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode === 0x9) {
      this.writeFrame(0xa, payload); // PING: res_http_websocket answers it
      return;
    }
    if (opcode === 0xa) return;
    if (opcode === 0x8) {
      // 22.8–22.10: hangup with AST_CAUSE_NORMAL and tech cause 1001, so the reply is CLOSE 1001
      // (chan_websocket.c:1110-1115); 22.11 echoes the remote's code instead.
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      this.closeWith(1001);
      this.finish('remote-close', 1001, code, 16);
      return;
    }
    // Fragmented messages are put back together (the bridge should never send them: res_http_websocket
    // hands chan_websocket 1024-byte pieces of long ones, and 22.8 and 22.9 hang up on CONTINUATION).
    if (opcode === 0x0 && this.fragments) this.fragments.parts.push(payload);
    else if (opcode === 0x1 || opcode === 0x2) this.fragments = { opcode, parts: [payload] };
    else return;
    if (!fin || !this.fragments) return;
    const message = Buffer.concat(this.fragments.parts);
    const type = this.fragments.opcode;
    this.fragments = null;
    if (type === 0x1) this.onText(message);
    else this.onBinary(message);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
