// The Worker's side of a call's media, reached as the bridge reaches it: a WebSocket upgrade to
// /internal/media/asterisk/{call_record_id}?<the route>, signed over `GET <path>?<query>`, then chan_websocket's
// own messages relayed as Asterisk sends them (JSON MEDIA_START, 160-byte μ-law frames every 20 ms,
// DTMF_END; the caller hanging up closes the socket). What comes back is recorded with the time it
// arrived: audio bytes, and the commands (FLUSH_MEDIA, MARK_MEDIA, HANGUP) in order. The audio is
// played out in real time as chan_websocket plays its queue, so a MARK_MEDIA is answered with
// MEDIA_MARK_PROCESSED once the audio before it has played, and FLUSH_MEDIA drops both.
import { createRequire } from 'node:module';
import type * as WS from 'ws';
import { ASTERISK_MEDIA_PREFIX, asteriskMediaTarget, mediaSignedContent } from '../../contract/media.ts';
import { webhookHeaders } from '../../contract/signing.ts';
import { FRAME_MS, ulawSilence, ulawTone } from './asterisk-media.ts';
import { SIGNING_SECRETS } from './constants.ts';
import { Playout } from './playout.ts';

const WebSocket = createRequire(import.meta.url)('ws') as typeof WS.WebSocket;

/** The rest of the route the bridge answered with: what its media request carries beside the tenant. */
export interface SignedRouteFields {
  phoneNumberId: string;
  aiProfileId: string | null;
  /** The PBX's id of the call (Asterisk ${UNIQUEID}). */
  callId: string;
}

export interface MediaSessionOptions {
  workerUrl: string;
  callRecordId: string;
  tenantId: string;
  /** The route, as the bridge sends it; absent: `tenant_id` alone, as a bridge from before the route was carried. */
  route?: SignedRouteFields;
  /** Sign with this secret; null: send no signature at all. */
  secret?: string | null;
  /** Change the signed target after signing (a signature moved to another call). */
  sendTarget?: string;
  /** Sign and send this target instead of the route's (a request the bridge would not make). */
  signTarget?: string;
}

export type Opened = { ok: true; session: MediaSession } | { ok: false; status: number; body: string };

/** Opens the socket; a refused upgrade answers its status and body instead. */
export async function openMediaSession(options: MediaSessionOptions): Promise<Opened> {
  const target = options.signTarget
    ? options.signTarget
    : options.route
      ? asteriskMediaTarget({
          call_record_id: options.callRecordId,
          tenant_id: options.tenantId,
          phone_number_id: options.route.phoneNumberId,
          ai_profile_id: options.route.aiProfileId,
          call_id: options.route.callId,
        })
      : `${ASTERISK_MEDIA_PREFIX}${options.callRecordId}?${new URLSearchParams({ tenant_id: options.tenantId })}`;
  const secret = options.secret === undefined ? SIGNING_SECRETS[0] : options.secret;
  const headers = secret ? { ...(await webhookHeaders(secret, mediaSignedContent(target))) } : {};
  const url = `${options.workerUrl.replace(/^http/, 'ws')}${options.sendTarget ?? target}`;
  return new Promise<Opened>((resolve) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ ok: false, status: response.statusCode ?? 0, body }));
    });
    socket.on('error', () => resolve({ ok: false, status: 0, body: '' }));
    socket.on('open', () => resolve({ ok: true, session: new MediaSession(socket, options) }));
  });
}

/** What the bridge relays of one call. */
export class MediaSession {
  readonly #socket: WS.WebSocket;
  /** Agent audio as it arrived: bytes and arrival time (ms since open). */
  readonly audio: { at: number; bytes: Buffer }[] = [];
  /** Commands from the session, in order, with arrival times. */
  readonly commands: { at: number; command: string }[] = [];
  readonly opened = Date.now();
  readonly closed: Promise<{ code: number; reason: string }>;
  framesSent = 0;
  readonly #playout = new Playout(
    (name) => this.send(JSON.stringify({ event: 'MEDIA_MARK_PROCESSED', channel_id: '1790000000.12', correlation_id: name })),
    { clearDropsMarks: true },
  );

  constructor(socket: WS.WebSocket, options: MediaSessionOptions) {
    this.#socket = socket;
    socket.on('message', (data, binary) => {
      const at = Date.now() - this.opened;
      if (binary) {
        this.audio.push({ at, bytes: data as Buffer });
        this.#playout.audio((data as Buffer).length);
        return;
      }
      const { command, correlation_id: id } = JSON.parse(String(data)) as { command?: unknown; correlation_id?: unknown };
      this.commands.push({ at, command: String(command) });
      if (command === 'MARK_MEDIA') this.#playout.mark(String(id ?? ''));
      if (command === 'FLUSH_MEDIA') this.#playout.clear();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => {
        this.#playout.stop();
        resolve({ code, reason: String(reason) });
      }),
    );
    // What Asterisk sends first (chan_websocket, f(json)), as the bridge forwards it.
    this.send(
      JSON.stringify({
        event: 'MEDIA_START',
        connection_id: 'vca-media',
        channel: 'WebSocket/vca-media/0x7f0001',
        channel_id: '1790000000.12',
        format: 'ulaw',
        optimal_frame_size: 160,
        ptime: 20,
        channel_variables: {
          VCA_CALL_RECORD_ID: options.callRecordId,
          VCA_TENANT_ID: options.tenantId,
          VCA_CALL_ID: options.route?.callId ?? '1790000000.11',
        },
      }),
    );
  }

  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  send(data: string | Buffer): void {
    if (this.open) this.#socket.send(data);
  }

  /** Caller audio at the real-time pace Asterisk sends it: `ms` of a tone (speech) or of silence. */
  async speak(ms: number, kind: 'tone' | 'silence' = 'tone'): Promise<void> {
    for (let sent = 0; sent < ms && this.open; sent += FRAME_MS) {
      this.send(kind === 'tone' ? ulawTone(FRAME_MS, 440, 8000, (sent / FRAME_MS) * 160) : ulawSilence(FRAME_MS));
      this.framesSent++;
      await new Promise((resolve) => setTimeout(resolve, FRAME_MS));
    }
  }

  dtmf(digit: string): void {
    this.send(JSON.stringify({ event: 'DTMF_END', channel_id: '1790000000.12', digit }));
  }

  /** The caller hangs up: Asterisk closes with 1000 and no message first. */
  hangUp(): void {
    this.#socket.close(1000);
  }

  audioBytes(sinceMs = 0): number {
    return this.audio.filter((chunk) => chunk.at >= sinceMs).reduce((sum, chunk) => sum + chunk.bytes.length, 0);
  }

  /** Resolves once `probe` holds, polling every 20 ms. */
  async until(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
