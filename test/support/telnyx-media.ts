// Telnyx's side of a call's audio: a media streaming client as Telnyx connects one to the
// stream_url of an actions/answer (bidirectional, RTP mode, PCMU), speaking the messages of
// developers.telnyx.com "Media Streaming over Websockets": `connected`, `start` (stream_id;
// call_control_id, call_session_id, client_state, media_format PCMU/8000/1), `media` every 20 ms
// (track inbound, chunk, timestamp, base64 payload), `dtmf`, `stop`, then the close. Like Telnyx it
// checks every frame it is sent: `media` {media: {payload}} of base64 audio (20 ms to 30 s of it),
// `mark` {mark: {name}} (sent back once the audio before it has played, as Telnyx plays it in
// real time), `clear` (which sends the queued marks back at once); anything else is answered with Telnyx's `error`
// frame (100003 malformed_frame, 100004 invalid_media) and kept in `malformed`.
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as WS from 'ws';
import { FRAME_MS, ulawSilence, ulawTone } from './asterisk-media.ts';
import { Playout } from './playout.ts';

const WebSocket = createRequire(import.meta.url)('ws') as typeof WS.WebSocket;

/** 20 ms and 30 s of 8 kHz μ-law: the sizes Telnyx takes in one RTP-mode media frame. */
const MIN_MEDIA_BYTES = 160;
const MAX_MEDIA_BYTES = 8_000 * 30;

export interface TelnyxStreamOptions {
  workerUrl: string;
  /** The stream_url of the answer command, as Telnyx was given it (PUBLIC_BASE_URL's host). */
  streamUrl: string;
  /** Connect here instead of the stream URL's path (a token moved or altered). */
  sendPath?: string;
}

export interface TelnyxStart {
  callControlId: string;
  callSessionId: string;
  /** As the answer command set it (base64); undefined: the start carries none. */
  clientState: string | undefined;
  mediaFormat?: { encoding: string; sample_rate: number; channels: number };
}

export type OpenedTelnyxStream = { ok: true; stream: TelnyxStream } | { ok: false; status: number; body: string };

export async function openTelnyxStream(options: TelnyxStreamOptions): Promise<OpenedTelnyxStream> {
  const path = options.sendPath ?? new URL(options.streamUrl).pathname;
  const url = `${options.workerUrl.replace(/^http/, 'ws')}${path}`;
  return new Promise<OpenedTelnyxStream>((resolve) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ ok: false, status: response.statusCode ?? 0, body }));
    });
    socket.on('error', () => resolve({ ok: false, status: 0, body: '' }));
    socket.on('open', () => resolve({ ok: true, stream: new TelnyxStream(socket) }));
  });
}

export class TelnyxStream {
  readonly #socket: WS.WebSocket;
  readonly streamId = randomUUID();
  readonly userId = randomUUID();
  /** Agent audio as it arrived: μ-law bytes and arrival time (ms since open). */
  readonly audio: { at: number; bytes: Buffer }[] = [];
  /** Every well-formed message from the session, parsed, with its arrival time. */
  readonly received: { at: number; message: Record<string, any> }[] = [];
  /** Frames Telnyx would have refused, as they came. */
  readonly malformed: string[] = [];
  readonly opened = Date.now();
  readonly closed: Promise<{ code: number; reason: string }>;
  #sequence = 1;
  #chunk = 1;
  #callControlId = '';
  framesSent = 0;
  readonly #playout = new Playout((name) =>
    this.send({ event: 'mark', stream_id: this.streamId, sequence_number: String(this.#sequence++), mark: { name } }),
  );

  constructor(socket: WS.WebSocket) {
    this.#socket = socket;
    socket.on('message', (data, binary) => this.#onFrame(String(data), binary));
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => {
        this.#playout.stop();
        resolve({ code, reason: String(reason) });
      }),
    );
  }

  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  send(message: Record<string, unknown>): void {
    if (this.open) this.#socket.send(JSON.stringify(message));
  }

  /** What Telnyx sends first: `connected`, then `start`. */
  begin(start: TelnyxStart): void {
    this.#callControlId = start.callControlId;
    this.send({ event: 'connected', version: '1.0.0' });
    this.send({
      event: 'start',
      sequence_number: String(this.#sequence++),
      start: {
        user_id: this.userId,
        call_control_id: start.callControlId,
        call_session_id: start.callSessionId,
        from: '+13122010094',
        to: '+13122123456',
        tags: [],
        ...(start.clientState === undefined ? {} : { client_state: start.clientState }),
        media_format: start.mediaFormat ?? { encoding: 'PCMU', sample_rate: 8000, channels: 1 },
      },
      stream_id: this.streamId,
    });
  }

  /** Caller audio at Telnyx's real-time pace: `ms` of a tone (speech) or of silence, one `media` per 20 ms. */
  async speak(ms: number, kind: 'tone' | 'silence' = 'tone'): Promise<void> {
    for (let sent = 0; sent < ms && this.open; sent += FRAME_MS) {
      const frame = kind === 'tone' ? ulawTone(FRAME_MS, 440, 8000, (sent / FRAME_MS) * 160) : ulawSilence(FRAME_MS);
      this.send({
        event: 'media',
        sequence_number: String(this.#sequence++),
        media: {
          track: 'inbound',
          chunk: String(this.#chunk),
          timestamp: String(this.#chunk * FRAME_MS),
          payload: frame.toString('base64'),
        },
        stream_id: this.streamId,
      });
      this.#chunk++;
      this.framesSent++;
      await new Promise((resolve) => setTimeout(resolve, FRAME_MS));
    }
  }

  dtmf(digit: string): void {
    this.send({
      event: 'dtmf',
      stream_id: this.streamId,
      occurred_at: new Date().toISOString(),
      sequence_number: String(this.#sequence++),
      dtmf: { digit },
    });
  }

  /** The call ended at Telnyx (the caller hung up): `stop`, then the close. */
  stop(): void {
    this.send({
      event: 'stop',
      sequence_number: String(this.#sequence++),
      stop: { user_id: this.userId, call_control_id: this.#callControlId },
      stream_id: this.streamId,
    });
    setTimeout(() => this.#socket.close(1000), 50);
  }

  /** Telnyx closes the socket without a `stop` first (the stop was lost): a clean close, nothing said. */
  close(code = 1000): void {
    this.#socket.close(code);
  }

  /** The connection drops without a `stop` (a network failure): the call itself is still up at Telnyx. */
  drop(): void {
    this.#socket.terminate();
  }

  events(name: string) {
    return this.received.filter((entry) => entry.message.event === name);
  }

  audioBytes(sinceMs = 0): number {
    return this.audio.filter((chunk) => chunk.at >= sinceMs).reduce((sum, chunk) => sum + chunk.bytes.length, 0);
  }

  async until(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** A frame from the session, checked as Telnyx checks what it is sent. */
  #onFrame(text: string, binary: boolean): void {
    const at = Date.now() - this.opened;
    const message = binary ? undefined : parse(text);
    const problem = message ? this.#problem(message) : MALFORMED;
    if (problem) {
      this.malformed.push(text);
      this.send({ event: 'error', payload: problem, stream_id: this.streamId });
      return;
    }
    const frame = message as Record<string, any>;
    this.received.push({ at, message: frame });
    if (frame.event === 'media') {
      const bytes = Buffer.from(frame.media.payload, 'base64');
      this.audio.push({ at, bytes });
      this.#playout.audio(bytes.length);
    }
    if (frame.event === 'mark') this.#playout.mark(frame.mark.name);
    if (frame.event === 'clear') this.#playout.clear();
  }

  /** Telnyx's error for a frame it cannot take; undefined for a well-formed one. */
  #problem(message: Record<string, any>): { code: number; title: string; detail: string } | undefined {
    if (message.event === 'clear') return undefined;
    if (message.event === 'mark') return typeof message.mark?.name === 'string' ? undefined : MALFORMED;
    if (message.event !== 'media') return MALFORMED;
    const payload = message.media?.payload;
    if (typeof payload !== 'string' || !BASE64.test(payload)) {
      return { code: 100004, title: 'invalid_media', detail: 'Media provided was not base64 encoded' };
    }
    const bytes = Buffer.from(payload, 'base64').length;
    return bytes >= MIN_MEDIA_BYTES && bytes <= MAX_MEDIA_BYTES ? undefined : MALFORMED;
  }
}

const MALFORMED = { code: 100003, title: 'malformed_frame', detail: 'Received frame was not formed correctly' };
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function parse(text: string): Record<string, any> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, any>) : undefined;
  } catch {
    return undefined;
  }
}

/** A call_control_id shaped like Telnyx's (`v3:` and base64url). */
export function randomCallControlId(): string {
  return `v3:${randomBytes(40).toString('base64url')}`;
}
