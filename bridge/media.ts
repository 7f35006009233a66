// The media relay. Asterisk's chan_websocket connects to GET /media (subprotocol "media") once per
// call it hands over; the first message, the JSON MEDIA_START, names the call in its channel
// variables. The bridge opens a session only for a call it routed itself (RoutedCalls), with the
// route it answered (tenant, number, profile), over one signed WebSocket to the Worker's
// /internal/media/asterisk/{id}: at once, also for a call whose record is still in the spool;
// Asterisk gets ANSWER only once the Worker's 101 says the session is ready. From then on the
// relay passes chan_websocket's own messages both ways unchanged (the Worker speaks Asterisk's
// protocol), holding audio towards Asterisk while it says MEDIA_XOFF, and with every buffer
// bounded, so a stalled side costs dropped frames, never unbounded memory.
// The protocol as Asterisk 22 speaks it: docs.asterisk.org, Configuration/Channel-Drivers/WebSocket.
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { asteriskMediaTarget, mediaSignedContent } from '../contract/media.ts';
import { webhookHeaders } from '../contract/signing.ts';
import { log } from './log.ts';
import type { CallRoute, RoutedCalls } from './routed-calls.ts';

export const MEDIA_PATH = '/media';
/** websocket_client.conf `protocols`: Asterisk sends it and refuses a 101 naming another. */
export const MEDIA_PROTOCOL = 'media';

/** 160 bytes: one 20 ms frame of 8 kHz μ-law, the unit chan_websocket plays. */
const FRAME_BYTES = 160;
/** Towards either side, at most this much may wait in the socket before frames are dropped (≈ 2 min of μ-law). */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Audio held for Asterisk while it says MEDIA_XOFF: 30 s of μ-law; more is dropped. */
export const MAX_HELD_BYTES = 30 * 50 * FRAME_BYTES;
/** Commands (MARK_MEDIA, …) held behind that audio to keep their place in it. */
const MAX_HELD_COMMANDS = 256;
/**
 * chan_websocket says MEDIA_XON below 800 queued frames and ignores whole messages once 1000 are
 * queued: after an XON, 200 frames fit. It says MEDIA_XOFF again at 900, which stops the release.
 */
const XON_RELEASE_BYTES = 200 * FRAME_BYTES;
/** Should audio stay held with no XOFF to wait for, it goes out at the pace Asterisk plays it. */
const HELD_TRICKLE_MS = 1_000;
const HELD_TRICKLE_BYTES = 50 * FRAME_BYTES;
/** Asterisk refuses a frame over 65535 bytes (CLOSE 1009, the call drops): longer audio goes as 400-frame messages. */
const MAX_AUDIO_MESSAGE_BYTES = 400 * FRAME_BYTES;
/** Asterisk's messages before the Worker answers (a DTMF_END, say; an unanswered caller sends no audio). */
const MAX_EARLY_MESSAGES = 64;
const MAX_PAYLOAD_BYTES = 1024 * 1024;
/** After a close or HANGUP is sent, how long the other end has to close before its socket is dropped. */
const CLOSE_TIMEOUT_MS = 1_000;
/** Of a refusal's body, only the problem's code is read. */
const MAX_REFUSAL_BODY = 4_096;

const ANSWER = '{"command":"ANSWER"}';
const HANGUP = { json: '{"command":"HANGUP"}', 'plain-text': 'HANGUP' } as const;

/** Ends that are the call's normal course; anything else is an error worth /healthz's last_error. */
const NORMAL_ENDS = new Set(['caller_hung_up', 'session_ended', 'shutdown']);

export interface MediaRelayOptions {
  workerUrl: URL;
  secret: string;
  /** From the upgrade to the Worker's 101: past it, Asterisk is told HANGUP (Dial's own timeout is 3 s). */
  startMs: number;
  routes: RoutedCalls;
}

export interface MediaHealth {
  /** Media connections open now. */
  active: number;
  /** Media connections accepted since the bridge started. */
  total: number;
  /** Of those, hand-offs that never became a session, other than by the caller hanging up. */
  refused: number;
  /** Why the last refused or broken hand-off ended, e.g. `refused:503 (model_unavailable)`. */
  last_error: string | null;
}

interface SessionContext {
  options: MediaRelayOptions;
  /** ws: or wss: origin of the Worker. */
  origin: string;
  /** Call record ids with a live hand-off: a second one for the same call is refused. */
  live: Set<string>;
  ended(outcome: { refused: boolean; error: string | null }): void;
}

export class MediaRelay {
  readonly #server = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false, // Asterisk fails a handshake that names any extension
    clientTracking: false,
    maxPayload: MAX_PAYLOAD_BYTES,
    handleProtocols: (offered) => (offered.has(MEDIA_PROTOCOL) ? MEDIA_PROTOCOL : false),
  });
  readonly #sessions = new Set<MediaSession>();
  readonly #context: Omit<SessionContext, 'ended'>;
  #accepting = true;
  #total = 0;
  #refused = 0;
  #lastError: string | null = null;

  constructor(options: MediaRelayOptions) {
    const origin = new URL(options.workerUrl.origin);
    origin.protocol = origin.protocol === 'https:' ? 'wss:' : 'ws:';
    this.#context = { options, origin: origin.origin, live: new Set() };
  }

  /** The HTTP server's 'upgrade': GET /media with subprotocol media is accepted at once, anything else refused. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on('error', () => {});
    if (new URL(request.url ?? '/', 'http://bridge').pathname !== MEDIA_PATH) return refuseUpgrade(socket, 404);
    if (request.method !== 'GET' || !offeredProtocols(request).includes(MEDIA_PROTOCOL)) return refuseUpgrade(socket, 400);
    if (!this.#accepting) return refuseUpgrade(socket, 503);
    // Never held for the Worker: Asterisk ≤ 22.10 has no handshake timeout, and the 101 only
    // means "the bridge is reached". The session's readiness is told with ANSWER.
    this.#server.handleUpgrade(request, socket, head, (asterisk) => {
      this.#total++;
      const session: MediaSession = new MediaSession(asterisk, {
        ...this.#context,
        ended: ({ refused, error }) => {
          this.#sessions.delete(session);
          if (refused) this.#refused++;
          if (error) this.#lastError = error;
        },
      });
      this.#sessions.add(session);
    });
  }

  health(): MediaHealth {
    return { active: this.#sessions.size, total: this.#total, refused: this.#refused, last_error: this.#lastError };
  }

  /**
   * For SIGTERM: takes no new media, lets live calls end by themselves for up to `graceMs`, then
   * hangs up the rest (HANGUP to Asterisk, both sockets closed). Resolves once all are closed.
   */
  async drain(graceMs: number): Promise<void> {
    this.#accepting = false;
    const allEnded = () => Promise.all([...this.#sessions].map((session) => session.ended));
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      allEnded().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (inTime) return;
    for (const session of this.#sessions) session.hangUp('shutdown');
    await allEnded();
  }
}

type Phase = 'awaiting_start' | 'connecting' | 'live' | 'ending';
type Item = { data: Buffer; binary: boolean };

/** One call's hand-off: the Asterisk socket, and the Worker socket opened for it. */
class MediaSession {
  readonly ended: Promise<void>;
  readonly #asterisk: WebSocket;
  readonly #context: SessionContext;
  #phase: Phase = 'awaiting_start';
  #format: 'json' | 'plain-text' = 'json';
  #deadline: NodeJS.Timeout;
  #closeTimer: NodeJS.Timeout | undefined;
  #resolveEnded: () => void = () => {};

  /** What MEDIA_START claimed, for the refusal's log line (checked shapes only). */
  #claimed: { call_record_id?: string; call_id?: string; channel_id?: string } = {};
  #route: CallRoute | undefined;
  #startedAt = 0;
  #mediaStart: Buffer | undefined;
  #worker: WebSocket | undefined;
  #wasLive = false;

  #early: Item[] = [];
  #xoff = false;
  #held: Item[] = [];
  #heldBytes = 0;
  #heldCommands = 0;
  #trickle: NodeJS.Timeout | undefined;

  #framesUp = 0;
  #framesDown = 0;
  #dropped = 0;
  #workerHungUp = false;

  #why: string | undefined;
  #detail: string | undefined;
  #asteriskClosed = false;
  #workerClosed = false;
  #finished = false;

  constructor(asterisk: WebSocket, context: SessionContext) {
    this.#asterisk = asterisk;
    this.#context = context;
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    this.#deadline = setTimeout(() => this.#end('start_timeout'), context.options.startMs);
    asterisk.on('message', (data, binary) => this.#fromAsterisk(toBuffer(data), binary));
    asterisk.on('error', () => {}); // 'close' follows
    asterisk.on('close', () => {
      this.#asteriskClosed = true;
      // The caller hung up, or Dial gave up: the same close on the wire.
      this.#end(this.#phase === 'awaiting_start' ? 'no_media_start' : this.#workerHungUp ? 'session_ended' : 'caller_hung_up');
      this.#finish();
    });
  }

  hangUp(why: string): void {
    this.#end(why);
  }

  // ---- Asterisk → Worker

  #fromAsterisk(data: Buffer, binary: boolean) {
    if (this.#phase === 'awaiting_start') return this.#onMediaStart(data, binary);
    if (this.#phase === 'connecting') {
      if (this.#early.length < MAX_EARLY_MESSAGES) this.#early.push({ data, binary });
      else this.#dropped++;
      return;
    }
    if (this.#phase !== 'live') return;
    if (!binary) this.#onAsteriskEvent(data);
    this.#toWorker(data, binary);
  }

  #onMediaStart(data: Buffer, binary: boolean) {
    if (binary) return this.#end('bad_media_start');
    const text = data.toString('utf8');
    const start = parseObject(text);
    if (!start) {
      // f(plain-text): its MEDIA_START has no channel variables, so the call cannot be known.
      if (text.startsWith('MEDIA_START')) {
        this.#format = 'plain-text';
        return this.#end('plain_text_media_start');
      }
      return this.#end('bad_media_start');
    }
    if (start.event !== 'MEDIA_START') return this.#end('bad_media_start');
    const variables = isObject(start.channel_variables) ? start.channel_variables : {};
    const recordId = variables.VCA_CALL_RECORD_ID;
    this.#claimed = {
      call_record_id: loggable(recordId),
      call_id: loggable(variables.VCA_CALL_ID),
      channel_id: loggable(start.channel_id),
    };
    const route = typeof recordId === 'string' ? this.#context.options.routes.find(recordId) : undefined;
    if (!route) return this.#end('unknown_call');
    if (variables.VCA_CALL_ID !== route.call_id || variables.VCA_TENANT_ID !== route.tenant_id) return this.#end('route_mismatch');
    if (this.#context.live.has(route.call_record_id)) return this.#end('duplicate');

    this.#context.live.add(route.call_record_id);
    this.#route = route;
    this.#mediaStart = data;
    this.#startedAt = Date.now();
    this.#phase = 'connecting';
    log.info('[MEDIA] started', { call_record_id: route.call_record_id, call_id: route.call_id, channel_id: this.#claimed.channel_id });
    void this.#connect(route);
  }

  #onAsteriskEvent(data: Buffer): void {
    const event = parseObject(data.toString('utf8'))?.event;
    if (event === 'MEDIA_XOFF') {
      this.#xoff = true;
      clearTimeout(this.#trickle);
      this.#trickle = undefined;
    } else if (event === 'MEDIA_XON') {
      this.#xoff = false;
      this.#releaseHeld(XON_RELEASE_BYTES);
    }
  }

  #toWorker(data: Buffer, binary: boolean): void {
    const worker = this.#worker;
    if (worker?.readyState !== WebSocket.OPEN) return;
    if (worker.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.#dropped++;
      return;
    }
    worker.send(data, { binary });
    if (binary) this.#framesUp++;
  }

  // ---- the Worker's socket

  async #connect(route: CallRoute): Promise<void> {
    // The whole route goes, signed: the Worker's session needs no call row to start (a call
    // routed from the table may still have its record in the spool), and writes once it exists.
    const target = asteriskMediaTarget(route);
    let headers: Record<string, string>;
    try {
      headers = { ...(await webhookHeaders(this.#context.options.secret, mediaSignedContent(target))) };
    } catch {
      return this.#end('internal_error', 'cannot sign');
    }
    if (this.#phase !== 'connecting') return; // Asterisk went away, or the deadline passed, meanwhile
    const worker = new WebSocket(new URL(target, this.#context.origin), {
      headers,
      perMessageDeflate: false,
      followRedirects: false,
      maxPayload: MAX_PAYLOAD_BYTES,
    });
    this.#worker = worker;
    worker.on('unexpected-response', (_request, response) => {
      // Not 101: the Worker refused the session (401 signature, 404 call, 409 ended, 503 model…).
      const status = `refused:${response.statusCode ?? 0}`;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_REFUSAL_BODY) this.#end(status);
      });
      response.on('end', () => this.#end(status, problemCode(body)));
      response.on('error', () => this.#end(status));
    });
    worker.on('open', () => this.#onWorkerOpen());
    worker.on('message', (data, binary) => this.#fromWorker(toBuffer(data), binary));
    worker.on('error', (error) => this.#end(this.#phase === 'live' ? 'worker_lost' : 'worker_unreachable', describeError(error)));
    worker.on('close', (code) => {
      this.#workerClosed = true;
      if (this.#phase === 'live') this.#end(code === 1000 ? 'session_ended' : 'worker_lost', `close ${code}`);
      else this.#end('worker_unreachable', `close ${code}`);
      this.#finish();
    });
  }

  #onWorkerOpen(): void {
    const worker = this.#worker;
    if (this.#phase !== 'connecting' || !worker || !this.#mediaStart) return;
    clearTimeout(this.#deadline);
    this.#phase = 'live';
    this.#wasLive = true;
    // The session is ready: now Dial answers the caller and bridges them to us.
    this.#toAsterisk(Buffer.from(ANSWER), false);
    worker.send(this.#mediaStart, { binary: false });
    const early = this.#early;
    this.#early = [];
    for (const { data, binary } of early) this.#toWorker(data, binary);
  }

  // ---- Worker → Asterisk

  #fromWorker(data: Buffer, binary: boolean) {
    if (this.#phase !== 'live') return;
    if (binary) {
      for (let offset = 0; offset < data.length; offset += MAX_AUDIO_MESSAGE_BYTES) {
        const piece = data.length <= MAX_AUDIO_MESSAGE_BYTES ? data : data.subarray(offset, offset + MAX_AUDIO_MESSAGE_BYTES);
        if (this.#xoff || this.#held.length > 0) this.#hold({ data: piece, binary: true });
        else this.#toAsterisk(piece, true);
      }
      return;
    }
    const command = parseObject(data.toString('utf8'))?.command;
    if (command === 'FLUSH_MEDIA' || command === 'HANGUP') {
      // Barge-in: what the bridge holds goes with what Asterisk has queued. HANGUP discards both too.
      this.#clearHeld();
      if (command === 'HANGUP') this.#workerHungUp = true;
      return this.#toAsterisk(data, false);
    }
    // Behind held audio a command (MARK_MEDIA, …) waits its turn, so it still marks the same place.
    if (this.#held.length > 0) this.#hold({ data, binary: false });
    else this.#toAsterisk(data, false);
  }

  #toAsterisk(data: Buffer, binary: boolean): void {
    if (this.#asterisk.readyState !== WebSocket.OPEN) return;
    if (this.#asterisk.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.#dropped++;
      return;
    }
    this.#asterisk.send(data, { binary });
    if (binary) this.#framesDown++;
  }

  #hold(item: Item): void {
    const full = item.binary ? this.#heldBytes + item.data.length > MAX_HELD_BYTES : this.#heldCommands >= MAX_HELD_COMMANDS;
    if (full) {
      this.#dropped++;
      return;
    }
    this.#held.push(item);
    if (item.binary) this.#heldBytes += item.data.length;
    else this.#heldCommands++;
  }

  #releaseHeld(budgetBytes: number): void {
    let released = 0;
    while (!this.#xoff && released < budgetBytes) {
      const item = this.#held.shift();
      if (!item) break;
      if (item.binary) {
        this.#heldBytes -= item.data.length;
        released += item.data.length;
      } else this.#heldCommands--;
      this.#toAsterisk(item.data, item.binary);
    }
    if (this.#held.length > 0 && !this.#xoff && !this.#trickle && this.#phase === 'live') {
      this.#trickle = setTimeout(() => {
        this.#trickle = undefined;
        this.#releaseHeld(HELD_TRICKLE_BYTES);
      }, HELD_TRICKLE_MS);
    }
  }

  #clearHeld(): void {
    this.#held = [];
    this.#heldBytes = 0;
    this.#heldCommands = 0;
    clearTimeout(this.#trickle);
    this.#trickle = undefined;
  }

  // ---- the end: both sides together

  /** The first reason wins; Asterisk is told HANGUP unless it ended the call, and both sockets close. */
  #end(why: string, detail?: string): void {
    if (this.#why) return;
    this.#why = why;
    this.#detail = detail;
    this.#phase = 'ending';
    clearTimeout(this.#deadline);
    this.#clearHeld();
    this.#early = [];
    if (this.#asterisk.readyState === WebSocket.OPEN) {
      this.#asterisk.send(HANGUP[this.#format]);
      this.#asterisk.close(1000);
    }
    const worker = this.#worker;
    if (worker?.readyState === WebSocket.CONNECTING) worker.terminate();
    else if (worker?.readyState === WebSocket.OPEN) worker.close(1000, CLOSE_REASONS[why] ?? why);
    this.#closeTimer = setTimeout(() => {
      this.#asterisk.terminate();
      worker?.terminate();
    }, CLOSE_TIMEOUT_MS);
    this.#finish();
  }

  #finish(): void {
    if (this.#finished || !this.#why || !this.#asteriskClosed || (this.#worker && !this.#workerClosed)) return;
    this.#finished = true;
    clearTimeout(this.#closeTimer);
    const why = this.#why;
    const detail = this.#detail;
    const route = this.#route;
    if (route) this.#context.live.delete(route.call_record_id);
    const abnormal = !NORMAL_ENDS.has(why);
    if (!route) {
      log.warn('[MEDIA] refused', { reason: why, ...this.#claimed });
    } else {
      (abnormal ? log.warn : log.info)('[MEDIA] ended', {
        call_record_id: route.call_record_id,
        call_id: route.call_id,
        seconds: Math.round((Date.now() - this.#startedAt) / 100) / 10,
        frames_up: this.#framesUp,
        frames_down: this.#framesDown,
        frames_dropped: this.#dropped,
        why,
        detail,
      });
    }
    this.#context.ended({
      refused: !this.#wasLive && why !== 'caller_hung_up',
      error: abnormal ? (detail ? `${why} (${detail})` : why) : null,
    });
    this.#resolveEnded();
  }
}

const CLOSE_REASONS: Record<string, string> = {
  caller_hung_up: 'caller hung up',
  session_ended: 'call ended',
  shutdown: 'bridge shutting down',
};

function refuseUpgrade(socket: Duplex, status: number): void {
  const reason = STATUS_CODES[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${reason.length}\r\n\r\n${reason}`,
  );
}

function offeredProtocols(request: IncomingMessage): string[] {
  return (request.headers['sec-websocket-protocol'] ?? '').split(',').map((protocol) => protocol.trim());
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseObject(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A value from MEDIA_START fit for a log line: short printable ASCII, else left out. */
function loggable(value: unknown): string | undefined {
  return typeof value === 'string' && /^[\x21-\x7e]{1,64}$/.test(value) ? value : undefined;
}

function problemCode(body: string): string | undefined {
  const code = parseObject(body.trim())?.code;
  return typeof code === 'string' ? loggable(code) : undefined;
}

function describeError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message.slice(0, 120) : 'unknown error';
}
