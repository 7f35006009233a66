// Twilio's side of a call's audio: a Media Streams client as Twilio connects one for
// <Connect><Stream url="…">. The upgrade carries X-Twilio-Signature by the official library over
// the stream URL Twilio was given (PUBLIC_BASE_URL's host, ws(s)://) while the socket goes to the
// Worker's real address; then Twilio's documented messages: `connected`, `start` (streamSid,
// callSid, accountSid, customParameters, μ-law 8 kHz), `media` every 20 ms, `dtmf`, `stop`.
// What comes back is recorded with its arrival time: agent audio (`media`), `clear`, `mark`; and
// played as Twilio plays it, in real time, a `mark` answered once the audio before it has played.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as WS from 'ws';
import { FRAME_MS, ulawSilence, ulawTone } from './asterisk-media.ts';
import { TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN } from './constants.ts';
import { Playout } from './playout.ts';
import { twilio } from './twilio.ts';

const WebSocket = createRequire(import.meta.url)('ws') as typeof WS.WebSocket;

export interface TwilioStreamOptions {
  workerUrl: string;
  /** The <Stream url> of the TwiML answer, as Twilio was told it (what it signs). */
  streamUrl: string;
  /** Connect here instead of the stream URL's path (a signature moved to another call). */
  sendPath?: string;
  /** Sign with this auth token; null: no signature. */
  token?: string | null;
  /** Twilio's jitter buffer: agent audio starts playing this long after it arrives (default 0). */
  playoutDelayMs?: number;
  /** false: never send a mark back (a carrier that drops them). */
  echoMarks?: boolean;
}

export interface StartMessage {
  callSid: string;
  accountSid?: string;
  customParameters: Record<string, string>;
}

export type OpenedStream = { ok: true; stream: TwilioStream } | { ok: false; status: number; body: string };

export async function openTwilioStream(options: TwilioStreamOptions): Promise<OpenedStream> {
  const token = options.token === undefined ? TWILIO_AUTH_TOKEN : options.token;
  const headers: Record<string, string> = token
    ? { 'x-twilio-signature': twilio.getExpectedTwilioSignature(token, options.streamUrl, {}) }
    : {};
  const path = options.sendPath ?? new URL(options.streamUrl).pathname;
  const url = `${options.workerUrl.replace(/^http/, 'ws')}${path}`;
  return new Promise<OpenedStream>((resolve) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ ok: false, status: response.statusCode ?? 0, body }));
    });
    socket.on('error', () => resolve({ ok: false, status: 0, body: '' }));
    socket.on('open', () => resolve({ ok: true, stream: new TwilioStream(socket, options) }));
  });
}

export class TwilioStream {
  readonly #socket: WS.WebSocket;
  readonly streamSid = `MZ${randomBytes(16).toString('hex')}`;
  /** Agent audio as it arrived: μ-law bytes and arrival time (ms since open). */
  readonly audio: { at: number; bytes: Buffer }[] = [];
  /** Every message from the session, parsed, with its arrival time. */
  readonly received: { at: number; message: Record<string, any> }[] = [];
  readonly opened = Date.now();
  readonly closed: Promise<{ code: number; reason: string }>;
  #sequence = 1;
  #chunk = 1;
  framesSent = 0;
  readonly #playout: Playout;
  /** Of the agent's audio, how much had still to play when the socket closed (ms). */
  unplayedAtCloseMs: number | undefined;

  constructor(socket: WS.WebSocket, options: Pick<TwilioStreamOptions, 'playoutDelayMs' | 'echoMarks'> = {}) {
    this.#socket = socket;
    this.#playout = new Playout(
      (name) => {
        if (options.echoMarks === false) return;
        this.send({ event: 'mark', sequenceNumber: String(this.#sequence++), streamSid: this.streamSid, mark: { name } });
      },
      { delayMs: options.playoutDelayMs },
    );
    socket.on('message', (data) => {
      const at = Date.now() - this.opened;
      const message = JSON.parse(String(data)) as Record<string, any>;
      this.received.push({ at, message });
      if (message.event === 'media') {
        const bytes = Buffer.from(String(message.media?.payload), 'base64');
        this.audio.push({ at, bytes });
        this.#playout.audio(bytes.length);
      }
      if (message.event === 'mark') this.#playout.mark(String(message.mark?.name));
      if (message.event === 'clear') this.#playout.clear();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => {
        this.unplayedAtCloseMs = this.#playout.unplayedMs;
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

  /** What Twilio sends first: `connected`, then `start`. */
  begin(start: StartMessage): void {
    this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.send({
      event: 'start',
      sequenceNumber: String(this.#sequence++),
      start: {
        accountSid: start.accountSid ?? TWILIO_ACCOUNT_SID,
        streamSid: this.streamSid,
        callSid: start.callSid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: start.customParameters,
      },
      streamSid: this.streamSid,
    });
  }

  /** Caller audio at Twilio's real-time pace: `ms` of a tone (speech) or of silence, one `media` per 20 ms. */
  async speak(ms: number, kind: 'tone' | 'silence' = 'tone'): Promise<void> {
    for (let sent = 0; sent < ms && this.open; sent += FRAME_MS) {
      const frame = kind === 'tone' ? ulawTone(FRAME_MS, 440, 8000, (sent / FRAME_MS) * 160) : ulawSilence(FRAME_MS);
      this.send({
        event: 'media',
        sequenceNumber: String(this.#sequence++),
        media: {
          track: 'inbound',
          chunk: String(this.#chunk++),
          timestamp: String(this.#chunk * FRAME_MS),
          payload: frame.toString('base64'),
        },
        streamSid: this.streamSid,
      });
      this.framesSent++;
      await new Promise((resolve) => setTimeout(resolve, FRAME_MS));
    }
  }

  dtmf(digit: string): void {
    this.send({
      event: 'dtmf',
      streamSid: this.streamSid,
      sequenceNumber: String(this.#sequence++),
      dtmf: { track: 'inbound_track', digit },
    });
  }

  /** The caller hung up: Twilio sends `stop`, then closes. */
  stop(callSid: string): void {
    this.send({
      event: 'stop',
      sequenceNumber: String(this.#sequence++),
      streamSid: this.streamSid,
      stop: { accountSid: TWILIO_ACCOUNT_SID, callSid },
    });
    setTimeout(() => this.#socket.close(1000), 50);
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
}
