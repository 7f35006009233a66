// A stand-in for OpenAI's Realtime API (GA shapes) for tests and offline development, never for
// production. It speaks, event for event, the subset a VCA call session uses over one WebSocket —
// session.update, audio in as 8 kHz μ-law, server-VAD turns, audio responses, cancel, truncate,
// text items, out-of-band text responses, function calls — and answers with no model at all: each
// caller turn is echoed back (transcripts say "[echo]"), a greeting is a synthetic voice, a summary
// is a fixed sentence. Field names follow openai/openai-node `src/resources/realtime/realtime.ts`.
// Tests steer it per connection with `[emulator] name=value` lines in the session instructions,
// and globally through options or `POST /__emulator/mode`; `GET /__emulator/sessions` shows what
// each connection sent. It never logs audio or transcripts: one JSON line per connection.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import type * as WS from 'ws';
import { linearToMulaw, mulawLevelDbfs } from './g711.ts';
import { isMain } from './is-main.ts';

// Vite (vitest globalSetup) resolves `ws` to its browser stub; require() gets the Node build.
const { WebSocketServer } = createRequire(import.meta.url)('ws') as typeof WS;

export interface RealtimeEmulatorOptions {
  port?: number;
  host?: string;
  /** Start refusing upgrades with 503 (also `POST /__emulator/mode`). */
  refuseConnections?: boolean;
  /** Hold `session.created` back this long on every connection (also `POST /__emulator/mode`). */
  slowStartMs?: number;
  /** Silence that ends a caller turn. Unset: the session's `silence_duration_ms` (default 500). */
  silenceMs?: number;
  /** A 20 ms frame louder than this (RMS, dBFS) is speech. */
  speechThresholdDbfs?: number;
  /** Size of each `response.output_audio.delta`. */
  chunkMs?: number;
  /** Playback pace: 1 sends audio in real time, 2 twice as fast. */
  pace?: number;
  /** Longest caller turn kept for the echo; the rest is heard but not repeated. */
  maxTurnSeconds?: number;
  /** A connection that sends more than this is closed (1008). */
  maxInboundBytesPerSecond?: number;
  maxConnections?: number;
  /** Where the per-connection log lines go (default stderr). */
  log?: (line: string) => void;
}

export interface EmulatorMode {
  refuse_connections: boolean;
  slow_start_ms: number;
}

/** Parsed from `[emulator] name=value` lines in the session instructions. */
export interface Directives {
  /** Delay `session.updated` (the answer to the update that carries this line). */
  slow_start_ms?: number;
  /** `start`: answer that session.update with an error and close. */
  fail?: 'start';
  /** Send a server error and close this long after the update that carries this line. */
  fail_after_ms?: number;
  /** The answer to this caller turn says goodbye and then calls the `end_call` tool. */
  end_call_after_turns?: number;
  /** Audio at this percentage of real time (50: half as fast as it plays), as a model that falls behind. */
  pace_percent?: number;
}

export type ReplyKind = 'greeting' | 'scripted' | 'echo' | 'goodbye' | 'text_ack' | 'tool_ack' | 'summary';

/** What the emulator saw on one connection; tests read it, nothing logs it. */
export interface ConnectionRecord {
  session_id: string;
  model: string;
  opened_at: string;
  closed_at: string | null;
  close_code: number | null;
  /** Why the emulator closed it (`fail=start`, `fail_after_ms`, `inbound_rate`, …); null when the client did. */
  closed_by_emulator: string | null;
  events_received: Record<string, number>;
  caller_audio_bytes: number;
  instructions: string | null;
  directives: Directives;
  voice: string | null;
  tools: string[];
  /** `committed_at_ms`: when the turn was committed (epoch ms, sub-ms precision), for latency splits. */
  caller_turns: { item_id: string; audio_ms: number; committed_at_ms: number }[];
  /** Text of user `input_text` messages (how the session passes DTMF digits). */
  user_texts: string[];
  function_call_outputs: { call_id: string; output: string }[];
  truncations: { item_id: string; content_index: number; audio_end_ms: number; transcript: string }[];
  responses: {
    id: string;
    trigger: 'client' | 'server_vad';
    conversation: 'auto' | 'none';
    output_modalities: ('audio' | 'text')[];
    reply: ReplyKind;
    status: 'in_progress' | 'completed' | 'cancelled' | 'failed';
    text: string;
    audio_ms: number;
    called_end_call: boolean;
    metadata: Json | null;
  }[];
  errors_sent: { code: string | null; message: string }[];
}

export interface RealtimeEmulator {
  /** `ws://host:port/v1/realtime`: the value for REALTIME_URL (clients add `?model=`). */
  url: string;
  /** `http://host:port`: where `/__emulator/mode` and `/__emulator/sessions` live. */
  origin: string;
  sessions(): ConnectionRecord[];
  session(sessionId: string): ConnectionRecord | undefined;
  setMode(patch: Partial<EmulatorMode>): EmulatorMode;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
type Modality = 'audio' | 'text';

const FRAME_BYTES = 160; // 20 ms of 8 kHz μ-law
const FRAME_MS = 20;
const MAX_PAYLOAD = 4 * 1024 * 1024;
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const MAX_OUTBOUND_BUFFER = 8 * 1024 * 1024;
const MAX_RECORDS = 200;
const MAX_ITEMS = 500;
const MAX_LIST = 1000;
const FIXED_GREETING = 'Hello! You are talking to the VCA realtime emulator. How can I help you today?';
const GOODBYE = 'Thank you for calling. Goodbye!';

// The client events the GA server accepts (the RealtimeClientEvent union). The last three are
// real but not emulated: they answer an error that says so.
const CLIENT_EVENTS = [
  'session.update',
  'input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
  'conversation.item.create',
  'conversation.item.truncate',
  'conversation.item.delete',
  'response.create',
  'response.cancel',
  'conversation.item.retrieve',
  'output_audio_buffer.clear',
];
const SESSION_KEYS = new Set([
  'type',
  'audio',
  'include',
  'instructions',
  'max_output_tokens',
  'model',
  'output_modalities',
  'parallel_tool_calls',
  'prompt',
  'reasoning',
  'tool_choice',
  'tools',
  'tracing',
  'truncation',
]);
const AUDIO_INPUT_KEYS = new Set(['format', 'noise_reduction', 'transcription', 'turn_detection']);
const AUDIO_OUTPUT_KEYS = new Set(['format', 'speed', 'voice']);
const RESPONSE_KEYS = new Set([
  'audio',
  'conversation',
  'input',
  'instructions',
  'max_output_tokens',
  'metadata',
  'output_modalities',
  'parallel_tool_calls',
  'prompt',
  'reasoning',
  'tool_choice',
  'tools',
]);
const SERVER_VAD_DEFAULTS = {
  type: 'server_vad',
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 500,
  idle_timeout_ms: null,
  create_response: true,
  interrupt_response: true,
};

export async function startRealtimeEmulator(options: RealtimeEmulatorOptions = {}): Promise<RealtimeEmulator> {
  const host = options.host ?? '127.0.0.1';
  const mode: EmulatorMode = { refuse_connections: options.refuseConnections ?? false, slow_start_ms: options.slowStartMs ?? 0 };
  const settings: Settings = {
    silenceMs: options.silenceMs,
    speechThresholdDbfs: options.speechThresholdDbfs ?? -45,
    chunkMs: Math.max(FRAME_MS, options.chunkMs ?? 100),
    pace: options.pace && options.pace > 0 ? options.pace : 1,
    maxTurnFrames: Math.round(((options.maxTurnSeconds ?? 30) * 1000) / FRAME_MS),
    maxInboundBytesPerSecond: options.maxInboundBytesPerSecond ?? 1024 * 1024,
    log: options.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
  const maxConnections = options.maxConnections ?? 100;
  const records: ConnectionRecord[] = [];
  const live = new Set<Connection>();

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_PAYLOAD,
    // Browsers and workerd cannot set headers on an upgrade; OpenAI takes the key as a subprotocol then.
    handleProtocols: (protocols) => (protocols.has('realtime') ? 'realtime' : false),
  });

  const server = createServer((request, response) => {
    void serveControl(request, response).catch(() => sendJson(response, 500, { error: 'internal' }));
  });

  async function serveControl(request: IncomingMessage, response: ServerResponse) {
    const { pathname } = new URL(request.url ?? '/', 'http://emulator');
    if (pathname === '/__emulator/sessions' && request.method === 'GET') return sendJson(response, 200, { sessions: records });
    if (pathname === '/__emulator/mode' && request.method === 'GET') return sendJson(response, 200, mode);
    if (pathname === '/__emulator/mode' && request.method === 'POST') {
      const body = await readBody(request, 16 * 1024);
      let patch: unknown;
      try {
        patch = JSON.parse(body);
      } catch {
        return sendJson(response, 400, { error: 'body must be JSON' });
      }
      const problem = applyMode(mode, patch);
      return problem ? sendJson(response, 400, { error: problem }) : sendJson(response, 200, mode);
    }
    if (pathname === '/v1/realtime') return sendJson(response, 426, { error: 'WebSocket upgrade required' });
    return sendJson(response, 404, { error: 'not found' });
  }

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://emulator');
    if (url.pathname !== '/v1/realtime') return refuseUpgrade(socket, 404, 'Not Found', 'not found');
    if (mode.refuse_connections) return refuseUpgrade(socket, 503, 'Service Unavailable', 'the emulator is refusing connections');
    if (live.size >= maxConnections) return refuseUpgrade(socket, 503, 'Service Unavailable', 'too many connections');
    if (!apiKeyOf(request)) return refuseUpgrade(socket, 401, 'Unauthorized', 'Missing bearer or basic authentication in header');
    wss.handleUpgrade(request, socket, head, (ws) => {
      const record = newRecord(url.searchParams.get('model') ?? '');
      records.push(record);
      if (records.length > MAX_RECORDS) records.splice(0, records.length - MAX_RECORDS);
      const connection = new Connection(ws, record, settings, mode.slow_start_ms, request);
      live.add(connection);
      ws.on('close', () => live.delete(connection));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host}:${port}`;
  return {
    url: `ws://${host}:${port}/v1/realtime`,
    origin,
    sessions: () => structuredClone(records),
    session: (sessionId) => structuredClone(records.find((record) => record.session_id === sessionId)),
    setMode(patch) {
      const problem = applyMode(mode, patch);
      if (problem) throw new Error(problem);
      return { ...mode };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Settings {
  silenceMs: number | undefined;
  speechThresholdDbfs: number;
  chunkMs: number;
  pace: number;
  maxTurnFrames: number;
  maxInboundBytesPerSecond: number;
  log: (line: string) => void;
}

interface ErrorDetails {
  code: string | null;
  message: string;
  param?: string | null;
  type?: string;
}

/** Input not yet answered: the next in-conversation response answers the latest of it. */
type Pending = { kind: 'caller_turn'; audio: Uint8Array; endCall: boolean } | { kind: 'text'; text: string } | { kind: 'tool_output' };

interface Reply {
  kind: ReplyKind;
  text: string;
  /** The echo's audio is the caller's own; every other reply is synthesised from its text. */
  audio?: Uint8Array;
  endCall: boolean;
}

interface ActiveResponse {
  id: string;
  conversation: 'auto' | 'none';
  modalities: Modality[];
  metadata: Json | null;
  reply: Reply;
  output: Json[];
  tools: unknown[];
  message: { item: Json; previousItemId: string | null; audio: Uint8Array; sent: number };
  timer?: NodeJS.Timeout;
  record: ConnectionRecord['responses'][number];
}

interface StoredItem {
  item: Json;
  /** Assistant audio: how much was sent, how long it was meant to be, its full transcript. */
  audio?: { sentMs: number; plannedMs: number; transcript: string };
}

// One WebSocket, one session. Client events are handled strictly in arrival order through a
// queue, so a slow start (or a slow session.updated) holds back everything behind it.
class Connection {
  readonly #ws: WS.WebSocket;
  readonly #record: ConnectionRecord;
  readonly #settings: Settings;
  readonly #openedAt = Date.now();
  readonly #conversationId = newId('conv_');
  #session: Json;
  #closed = false;
  #queue: (() => void | Promise<void>)[] = [];
  #queuedBytes = 0;
  #draining = false;
  #rateWindowStart = 0;
  #rateBytes = 0;
  #failTimer?: NodeJS.Timeout;

  // Input audio and turn detection. Audio time is counted in frames appended, not wall time.
  #partial = new Uint8Array(FRAME_BYTES);
  #partialFill = 0;
  #framesHeard = 0;
  #speech: { itemId: string; frames: Uint8Array[]; lastSpeechIndex: number; silentFrames: number } | null = null;
  #manualBuffer: Uint8Array[] = [];

  #items = new Map<string, StoredItem>();
  #lastItemId: string | null = null;
  #callIds = new Set<string>();
  #pending: Pending | null = null;
  #responses = new Map<string, ActiveResponse>();
  #hasSpoken = false;

  constructor(ws: WS.WebSocket, record: ConnectionRecord, settings: Settings, slowStartMs: number, request: IncomingMessage) {
    this.#ws = ws;
    this.#record = record;
    this.#settings = settings;
    this.#session = defaultSession(record.session_id, record.model);
    settings.log(JSON.stringify({ at: new Date().toISOString(), msg: 'realtime emulator: connection open', session: record.session_id }));
    ws.on('message', (data, isBinary) => this.#receive(data as Buffer, isBinary));
    ws.on('close', (code) => this.#onClose(code));
    ws.on('error', () => ws.terminate());

    if (String(request.headers['openai-beta'] ?? '').includes('realtime=v1')) {
      this.#fatal(4000, 'beta_api_shape_disabled', {
        code: 'beta_api_shape_disabled',
        message: "The beta Realtime API shape is disabled for this model. Remove the 'OpenAI-Beta: realtime=v1' header.",
      });
      return;
    }
    if (!record.model) {
      this.#fatal(4000, 'missing_model', {
        code: 'missing_model',
        message: 'You must provide a model parameter, for example wss://api.openai.com/v1/realtime?model=gpt-realtime',
      });
      return;
    }
    this.#enqueue(async () => {
      if (slowStartMs > 0) await sleep(slowStartMs);
      this.#send({ type: 'session.created', session: this.#session });
    }, 0);
  }

  // ---- transport: inbound queue, limits, outbound events ----

  #receive(data: Buffer, isBinary: boolean) {
    if (this.#closed) return;
    const now = Date.now();
    if (now - this.#rateWindowStart >= 1000) {
      this.#rateWindowStart = now;
      this.#rateBytes = 0;
    }
    this.#rateBytes += data.length;
    if (this.#rateBytes > this.#settings.maxInboundBytesPerSecond) return this.#closeBy(1008, 'inbound_rate');
    this.#enqueue(() => this.#handle(data, isBinary), data.length);
  }

  #enqueue(task: () => void | Promise<void>, bytes: number) {
    this.#queuedBytes += bytes;
    if (this.#queuedBytes > MAX_QUEUED_BYTES) return this.#closeBy(1009, 'inbound_queue');
    this.#queue.push(async () => {
      this.#queuedBytes -= bytes;
      await task();
    });
    void this.#drain();
  }

  async #drain() {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let task = this.#queue.shift(); task && !this.#closed; task = this.#queue.shift()) {
        try {
          await task();
        } catch (error) {
          // An emulator bug: say so on the wire and in the log (never with payloads), keep serving.
          this.#settings.log(
            JSON.stringify({ msg: 'realtime emulator: internal error', session: this.#record.session_id, error: String(error) }),
          );
          this.#error({ type: 'server_error', code: 'server_error', message: 'The realtime emulator failed to handle this event.' });
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #send(event: Json) {
    if (this.#closed) return;
    if (this.#ws.bufferedAmount > MAX_OUTBOUND_BUFFER) return this.#closeBy(1008, 'client_not_reading');
    this.#ws.send(JSON.stringify({ type: event.type, event_id: newId('event_'), ...event }));
  }

  #error(details: ErrorDetails, clientEventId: unknown = null) {
    this.#record.errors_sent.push({ code: details.code, message: details.message });
    capList(this.#record.errors_sent);
    this.#send({
      type: 'error',
      error: {
        type: details.type ?? 'invalid_request_error',
        code: details.code,
        message: details.message,
        param: details.param ?? null,
        event_id: typeof clientEventId === 'string' ? clientEventId : null,
      },
    });
  }

  /** An error the session cannot survive: the event, then a close frame, as OpenAI does. */
  #fatal(code: number, why: string, details: ErrorDetails) {
    this.#error(details);
    this.#closeBy(code, why, `${details.type ?? 'invalid_request_error'}.${details.code ?? ''}`);
  }

  #closeBy(code: number, why: string, reason = why) {
    if (this.#closed) return;
    this.#record.closed_by_emulator = why;
    this.#ws.close(code, reason.slice(0, 120));
    this.#shutdown(code);
  }

  #onClose(code: number) {
    this.#shutdown(code);
  }

  #shutdown(code: number) {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#failTimer);
    for (const response of this.#responses.values()) clearTimeout(response.timer);
    for (const response of this.#responses.values()) if (response.record.status === 'in_progress') response.record.status = 'cancelled';
    this.#responses.clear();
    this.#queue = [];
    this.#record.closed_at = new Date().toISOString();
    this.#record.close_code = code;
    const eventsIn = Object.values(this.#record.events_received).reduce((sum, n) => sum + n, 0);
    this.#settings.log(
      JSON.stringify({
        at: this.#record.closed_at,
        msg: 'realtime emulator: connection closed',
        session: this.#record.session_id,
        seconds: Math.round((Date.now() - this.#openedAt) / 100) / 10,
        close_code: code,
        closed_by_emulator: this.#record.closed_by_emulator,
        events_in: eventsIn,
        caller_audio_bytes: this.#record.caller_audio_bytes,
        responses: this.#record.responses.length,
      }),
    );
  }

  // ---- client events ----

  async #handle(data: Buffer, isBinary: boolean) {
    if (isBinary) {
      return this.#error({ code: 'invalid_event', message: 'Expected a text WebSocket message; binary frames are not supported.' });
    }
    let event: unknown;
    try {
      event = JSON.parse(data.toString('utf8'));
    } catch {
      return this.#error({ code: 'invalid_json', message: 'Invalid event: failed to parse JSON value.' });
    }
    if (!isObject(event)) return this.#error({ code: 'invalid_event', message: 'Invalid event: expected a JSON object.' });
    const { type, event_id: eventId } = event;
    if (typeof type !== 'string') {
      return this.#error({ code: 'missing_required_parameter', message: "Missing required parameter: 'type'.", param: 'type' }, eventId);
    }
    this.#record.events_received[type] = (this.#record.events_received[type] ?? 0) + 1;
    switch (type) {
      case 'session.update':
        return this.#sessionUpdate(event, eventId);
      case 'input_audio_buffer.append':
        return this.#append(event, eventId);
      case 'input_audio_buffer.commit':
        return this.#commitBuffer(eventId);
      case 'input_audio_buffer.clear':
        this.#manualBuffer = [];
        this.#speech = null;
        return this.#send({ type: 'input_audio_buffer.cleared' });
      case 'conversation.item.create':
        return this.#createItem(event, eventId);
      case 'conversation.item.truncate':
        return this.#truncate(event, eventId);
      case 'conversation.item.delete':
        return this.#deleteItem(event, eventId);
      case 'response.create':
        return this.#responseCreate(event, eventId);
      case 'response.cancel':
        return this.#responseCancel(event, eventId);
      case 'conversation.item.retrieve':
      case 'output_audio_buffer.clear':
        return this.#error(
          { code: 'emulator_unsupported', message: `The realtime emulator does not implement '${type}'.`, param: 'type' },
          eventId,
        );
      default:
        return this.#error(
          {
            code: 'invalid_value',
            message: `Invalid value: '${type.slice(0, 100)}'. Supported values are: ${CLIENT_EVENTS.map((name) => `'${name}'`).join(', ')}.`,
            param: 'type',
          },
          eventId,
        );
    }
  }

  async #sessionUpdate(event: Json, eventId: unknown) {
    const update = event.session;
    const problem = validateSessionUpdate(update);
    if (problem) return this.#error(problem, eventId);
    const session = update as Json;
    const next = mergeSession(this.#session, session);
    const nextVoice = (next.audio as Json).output && ((next.audio as Json).output as Json).voice;
    const voice = ((this.#session.audio as Json).output as Json).voice;
    if (this.#hasSpoken && JSON.stringify(nextVoice) !== JSON.stringify(voice)) {
      return this.#error(
        {
          code: 'cannot_update_voice',
          message: 'Cannot update a conversation voice if assistant audio is present.',
          param: 'session.audio.output.voice',
        },
        eventId,
      );
    }
    this.#session = next;
    const instructions = typeof next.instructions === 'string' ? next.instructions : null;
    this.#record.instructions = instructions;
    this.#record.voice = typeof nextVoice === 'string' ? nextVoice : nextVoice ? JSON.stringify(nextVoice) : null;
    this.#record.tools = toolNames(next.tools);

    const directives = typeof session.instructions === 'string' ? parseDirectives(session.instructions) : null;
    if (directives) {
      this.#record.directives = directives;
      if (directives.fail === 'start') {
        return this.#fatal(1011, 'fail=start', {
          type: 'server_error',
          code: 'server_error',
          message: 'The server had an error while processing your request. (emulator: fail=start)',
        });
      }
      if (directives.fail_after_ms !== undefined && !this.#failTimer) {
        this.#failTimer = setTimeout(
          () =>
            this.#fatal(1011, 'fail_after_ms', {
              type: 'server_error',
              code: 'server_error',
              message: 'The server had an error while processing your request. (emulator: fail_after_ms)',
            }),
          directives.fail_after_ms,
        );
      }
      if (directives.slow_start_ms) await sleep(directives.slow_start_ms);
    }
    this.#send({ type: 'session.updated', session: this.#session });
  }

  #append(event: Json, eventId: unknown) {
    const { audio } = event;
    if (typeof audio !== 'string') {
      return this.#error({ code: 'invalid_type', message: "Invalid type for 'audio': expected a base64 string.", param: 'audio' }, eventId);
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(audio)) {
      return this.#error(
        { code: 'invalid_value', message: "Invalid 'audio': expected base64-encoded audio bytes.", param: 'audio' },
        eventId,
      );
    }
    const format = formatOf(this.#session, 'input');
    if (format !== 'audio/pcmu') {
      return this.#error(
        { code: 'emulator_unsupported', message: `The realtime emulator hears only audio/pcmu; session.audio.input.format is ${format}.` },
        eventId,
      );
    }
    const bytes = Buffer.from(audio, 'base64');
    this.#record.caller_audio_bytes += bytes.length;
    for (let offset = 0; offset < bytes.length; ) {
      const take = Math.min(FRAME_BYTES - this.#partialFill, bytes.length - offset);
      this.#partial.set(bytes.subarray(offset, offset + take), this.#partialFill);
      this.#partialFill += take;
      offset += take;
      if (this.#partialFill === FRAME_BYTES) {
        this.#hearFrame(this.#partial.slice());
        this.#partialFill = 0;
      }
    }
  }

  // Server VAD stand-in: energy per 20 ms frame; speech starts on the first loud frame and stops
  // after the configured silence. The turn's audio is its first to its last loud frame.
  #hearFrame(frame: Uint8Array) {
    this.#framesHeard++;
    const vad = turnDetection(this.#session);
    if (!vad) {
      if (this.#manualBuffer.length < this.#settings.maxTurnFrames) this.#manualBuffer.push(frame);
      return;
    }
    const loud = mulawLevelDbfs(frame) >= this.#settings.speechThresholdDbfs;
    const nowMs = this.#framesHeard * FRAME_MS;
    if (!this.#speech) {
      if (!loud) return;
      this.#speech = { itemId: newId('item_'), frames: [frame], lastSpeechIndex: 0, silentFrames: 0 };
      const prefix = typeof vad.prefix_padding_ms === 'number' ? vad.prefix_padding_ms : 300;
      this.#send({
        type: 'input_audio_buffer.speech_started',
        audio_start_ms: Math.max(0, nowMs - FRAME_MS - prefix),
        item_id: this.#speech.itemId,
      });
      if (vad.interrupt_response !== false) {
        for (const response of this.#responses.values()) if (response.conversation === 'auto') this.#cancel(response, 'turn_detected');
      }
      return;
    }
    const speech = this.#speech;
    if (speech.frames.length < this.#settings.maxTurnFrames) speech.frames.push(frame);
    if (loud) {
      speech.lastSpeechIndex = speech.frames.length - 1;
      speech.silentFrames = 0;
      return;
    }
    speech.silentFrames++;
    const silenceMs = this.#settings.silenceMs ?? (typeof vad.silence_duration_ms === 'number' ? vad.silence_duration_ms : 500);
    if (speech.silentFrames * FRAME_MS < silenceMs) return;
    this.#speech = null;
    this.#send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: nowMs, item_id: speech.itemId });
    this.#commitTurn(speech.itemId, concat(speech.frames.slice(0, speech.lastSpeechIndex + 1)), true);
  }

  #commitBuffer(eventId: unknown) {
    const speech = this.#speech;
    if (speech) {
      this.#speech = null;
      return this.#commitTurn(speech.itemId, concat(speech.frames.slice(0, speech.lastSpeechIndex + 1)), false);
    }
    if (turnDetection(this.#session) || this.#manualBuffer.length === 0) {
      return this.#error(
        {
          code: 'input_audio_buffer_commit_empty',
          message:
            'Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has 0.00ms of audio.',
        },
        eventId,
      );
    }
    const audio = concat(this.#manualBuffer);
    this.#manualBuffer = [];
    this.#commitTurn(newId('item_'), audio, false);
  }

  #commitTurn(itemId: string, audio: Uint8Array, byVad: boolean) {
    this.#send({ type: 'input_audio_buffer.committed', previous_item_id: this.#lastItemId, item_id: itemId });
    this.#addItem({ id: itemId, type: 'message', status: 'completed', role: 'user', content: [{ type: 'input_audio', transcript: null }] });
    const audioMs = audio.length / 8;
    this.#record.caller_turns.push({ item_id: itemId, audio_ms: audioMs, committed_at_ms: performance.timeOrigin + performance.now() });
    capList(this.#record.caller_turns);
    if (transcriptionModel(this.#session)) {
      this.#send({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: itemId,
        content_index: 0,
        transcript: `[echo] ${(audioMs / 1000).toFixed(2)} s of caller audio`,
        usage: { type: 'duration', seconds: Math.round(audioMs) / 1000 },
      });
    }
    const endCall = this.#record.directives.end_call_after_turns === this.#record.caller_turns.length;
    this.#pending = { kind: 'caller_turn', audio, endCall };
    const vad = turnDetection(this.#session);
    const busy = [...this.#responses.values()].some((response) => response.conversation === 'auto');
    if (byVad && vad && vad.create_response !== false && !busy) this.#startResponse({}, 'server_vad');
  }

  #createItem(event: Json, eventId: unknown) {
    const problem = validateItem(event.item, this.#callIds);
    if (problem) return this.#error(problem, eventId);
    const item = { ...(event.item as Json) };
    const id = typeof item.id === 'string' ? item.id : newId('item_');
    const stored = this.#addItem({ ...item, id, status: 'completed' });
    if (item.type === 'function_call_output') {
      this.#record.function_call_outputs.push({ call_id: String(item.call_id), output: String(item.output) });
      capList(this.#record.function_call_outputs);
      this.#pending = { kind: 'tool_output' };
    } else if (item.role === 'user') {
      const text = textOf(stored.item);
      if (text !== null) {
        this.#record.user_texts.push(text);
        capList(this.#record.user_texts);
        this.#pending = { kind: 'text', text };
      }
    }
  }

  #addItem(item: Json): StoredItem {
    const full: Json = { object: 'realtime.item', ...item };
    const stored: StoredItem = { item: full };
    this.#send({ type: 'conversation.item.added', previous_item_id: this.#lastItemId, item: full });
    this.#send({ type: 'conversation.item.done', previous_item_id: this.#lastItemId, item: full });
    this.#remember(full.id as string, stored);
    return stored;
  }

  #remember(id: string, stored: StoredItem) {
    this.#items.set(id, stored);
    this.#lastItemId = id;
    if (this.#items.size > MAX_ITEMS) this.#items.delete(this.#items.keys().next().value as string);
  }

  #truncate(event: Json, eventId: unknown) {
    const { item_id: itemId, content_index: contentIndex, audio_end_ms: audioEndMs } = event;
    for (const [name, value] of [
      ['item_id', itemId],
      ['content_index', contentIndex],
      ['audio_end_ms', audioEndMs],
    ] as const) {
      if (value === undefined)
        return this.#error({ code: 'missing_required_parameter', message: `Missing required parameter: '${name}'.`, param: name }, eventId);
    }
    if (typeof itemId !== 'string')
      return this.#error({ code: 'invalid_type', message: "Invalid type for 'item_id'.", param: 'item_id' }, eventId);
    if (!Number.isInteger(contentIndex) || !Number.isInteger(audioEndMs)) {
      return this.#error(
        { code: 'invalid_type', message: "Invalid type for 'audio_end_ms': expected an integer.", param: 'audio_end_ms' },
        eventId,
      );
    }
    const endMs = audioEndMs as number;
    if (endMs < 0) {
      return this.#error(
        {
          code: 'integer_below_min_value',
          message: `Invalid 'audio_end_ms': integer below minimum value. Expected a value >= 0, but got ${endMs} instead.`,
          param: 'audio_end_ms',
        },
        eventId,
      );
    }
    const stored = this.#items.get(itemId);
    if (!stored)
      return this.#error({ code: 'item_not_found', message: `Item with item_id not found: ${itemId}`, param: 'item_id' }, eventId);
    if (!stored.audio || contentIndex !== 0) {
      return this.#error(
        { code: 'unsupported_content_type', message: 'Only model output audio messages can be truncated', param: 'item_id' },
        eventId,
      );
    }
    const sentMs = Math.floor(this.#liveSentMs(itemId) ?? stored.audio.sentMs);
    if (endMs > sentMs) {
      return this.#error(
        { code: 'invalid_value', message: `Audio content of ${sentMs}ms is already shorter than ${endMs}ms`, param: 'audio_end_ms' },
        eventId,
      );
    }
    // OpenAI drops the text the caller never heard; the emulator keeps the heard share of the words.
    const transcript = heardPrefix(stored.audio.transcript, endMs / stored.audio.plannedMs);
    stored.audio.transcript = transcript;
    stored.item = { ...stored.item, content: [{ type: 'output_audio', transcript }] };
    this.#record.truncations.push({ item_id: itemId, content_index: 0, audio_end_ms: endMs, transcript });
    capList(this.#record.truncations);
    this.#send({ type: 'conversation.item.truncated', item_id: itemId, content_index: 0, audio_end_ms: endMs });
  }

  #liveSentMs(itemId: string): number | undefined {
    for (const response of this.#responses.values()) if (response.message.item.id === itemId) return response.message.sent / 8;
    return undefined;
  }

  #deleteItem(event: Json, eventId: unknown) {
    const itemId = event.item_id;
    if (typeof itemId !== 'string' || !this.#items.delete(itemId)) {
      return this.#error({ code: 'item_not_found', message: `Item with item_id not found: ${String(itemId)}`, param: 'item_id' }, eventId);
    }
    this.#send({ type: 'conversation.item.deleted', item_id: itemId });
  }

  #responseCreate(event: Json, eventId: unknown) {
    const params = event.response ?? {};
    const problem = validateResponseParams(params);
    if (problem) return this.#error(problem, eventId);
    const response = params as Json;
    if (response.conversation !== 'none') {
      const active = [...this.#responses.values()].find((candidate) => candidate.conversation === 'auto');
      if (active) {
        return this.#error(
          {
            code: 'conversation_already_has_active_response',
            message: `Conversation already has an active response in progress: ${active.id}. Wait until the response is finished before creating a new one.`,
          },
          eventId,
        );
      }
    }
    this.#startResponse(response, 'client', eventId);
  }

  #responseCancel(event: Json, eventId: unknown) {
    const wanted = event.response_id;
    const target =
      typeof wanted === 'string'
        ? this.#responses.get(wanted)
        : [...this.#responses.values()].find((candidate) => candidate.conversation === 'auto');
    if (!target)
      return this.#error({ code: 'response_cancel_not_active', message: 'Cancellation failed: no active response found.' }, eventId);
    this.#cancel(target, 'client_cancelled');
  }

  // ---- responses ----

  #chooseReply(params: Json): Reply {
    if (params.conversation === 'none') {
      const turns = this.#record.caller_turns.length;
      return { kind: 'summary', text: `[echo] Summary: the emulator heard ${turns} caller turn${turns === 1 ? '' : 's'}.`, endCall: false };
    }
    const scripted = typeof params.instructions === 'string' ? quotedWords(params.instructions) : null;
    const pending = this.#pending;
    this.#pending = null;
    if (scripted) return { kind: 'scripted', text: scripted, endCall: false };
    // Asked to take leave (the session's time limit): a model would say goodbye.
    if (typeof params.instructions === 'string' && /\bgoodbye\b/i.test(params.instructions)) {
      return { kind: 'goodbye', text: GOODBYE, endCall: false };
    }
    if (pending?.kind === 'caller_turn' && pending.endCall) return { kind: 'goodbye', text: GOODBYE, endCall: true };
    if (pending?.kind === 'caller_turn') {
      const seconds = (pending.audio.length / 8000).toFixed(2);
      return { kind: 'echo', text: `[echo] playing back ${seconds} s of caller audio`, audio: pending.audio, endCall: false };
    }
    if (pending?.kind === 'text') {
      const keys = pending.text.match(/[0-9*#]/g)?.join(' ');
      return {
        kind: 'text_ack',
        text: keys ? `[echo] you pressed ${keys}` : `[echo] you wrote: ${pending.text.slice(0, 200)}`,
        endCall: false,
      };
    }
    if (pending?.kind === 'tool_output') return { kind: 'tool_ack', text: '[echo] the tool answered.', endCall: false };
    return { kind: 'greeting', text: FIXED_GREETING, endCall: false };
  }

  #startResponse(params: Json, trigger: 'client' | 'server_vad', eventId: unknown = null) {
    const modalities = (params.output_modalities ?? this.#session.output_modalities) as Modality[];
    if (modalities.includes('audio') && formatOf(this.#session, 'output') !== 'audio/pcmu') {
      return this.#error(
        {
          code: 'emulator_unsupported',
          message: `The realtime emulator speaks only audio/pcmu; session.audio.output.format is ${formatOf(this.#session, 'output')}.`,
        },
        eventId,
      );
    }
    const conversation = params.conversation === 'none' ? 'none' : 'auto';
    const reply = this.#chooseReply(params);
    const audio = modalities.includes('audio') ? (reply.audio ?? synthesiseVoice(reply.text)) : new Uint8Array(0);
    const metadata = isObject(params.metadata) ? params.metadata : null;
    const id = newId('resp_');
    const record: ActiveResponse['record'] = {
      id,
      trigger,
      conversation,
      output_modalities: modalities,
      reply: reply.kind,
      status: 'in_progress',
      text: reply.text,
      audio_ms: 0,
      called_end_call: false,
      metadata,
    };
    this.#record.responses.push(record);
    capList(this.#record.responses);
    const item: Json = {
      id: newId('item_'),
      object: 'realtime.item',
      type: 'message',
      status: 'in_progress',
      role: 'assistant',
      content: [],
    };
    const response: ActiveResponse = {
      id,
      conversation,
      modalities,
      metadata,
      reply,
      output: [],
      tools: [...(Array.isArray(this.#session.tools) ? this.#session.tools : []), ...(Array.isArray(params.tools) ? params.tools : [])],
      message: { item, previousItemId: this.#lastItemId, audio, sent: 0 },
      record,
    };
    this.#responses.set(id, response);
    this.#send({ type: 'response.created', response: this.#responseResource(response, 'in_progress', null) });
    this.#send({ type: 'response.output_item.added', response_id: id, output_index: 0, item });
    if (conversation === 'auto') {
      this.#send({ type: 'conversation.item.added', previous_item_id: response.message.previousItemId, item });
      const spoken = audio.length > 0 ? { sentMs: 0, plannedMs: audio.length / 8, transcript: reply.text } : undefined;
      this.#remember(item.id as string, { item, audio: spoken });
    }
    const where = { response_id: id, item_id: item.id, output_index: 0, content_index: 0 };
    if (!modalities.includes('audio')) {
      this.#send({ type: 'response.content_part.added', ...where, part: { type: 'text', text: '' } });
      for (const delta of words(reply.text)) this.#send({ type: 'response.output_text.delta', ...where, delta });
      this.#send({ type: 'response.output_text.done', ...where, text: reply.text });
      this.#send({ type: 'response.content_part.done', ...where, part: { type: 'text', text: reply.text } });
      this.#finishMessage(response, 'completed');
      return;
    }
    this.#hasSpoken = true;
    this.#send({ type: 'response.content_part.added', ...where, part: { type: 'audio', transcript: '' } });
    // Like the real model, the transcript runs ahead of the audio: what the caller actually heard
    // is only known once the client truncates.
    for (const delta of words(reply.text)) this.#send({ type: 'response.output_audio_transcript.delta', ...where, delta });
    this.#play(response, where);
  }

  #play(response: ActiveResponse, where: Json) {
    const { chunkMs } = this.#settings;
    const percent = this.#record.directives.pace_percent;
    const pace = percent ? percent / 100 : this.#settings.pace;
    const chunkBytes = chunkMs * 8;
    const interval = chunkMs / pace;
    const started = performance.now();
    let chunks = 0;
    const tick = () => {
      if (this.#closed || !this.#responses.has(response.id)) return;
      const { message } = response;
      const chunk = message.audio.subarray(message.sent, message.sent + chunkBytes);
      if (chunk.length === 0) {
        this.#endAudio(response, where);
        this.#finishMessage(response, 'completed');
        return;
      }
      this.#send({ type: 'response.output_audio.delta', ...where, delta: Buffer.from(chunk).toString('base64') });
      message.sent += chunk.length;
      chunks++;
      response.timer = setTimeout(tick, Math.max(0, started + chunks * interval - performance.now()));
    };
    tick();
  }

  #endAudio(response: ActiveResponse, where: Json) {
    const transcript = response.reply.text;
    this.#send({ type: 'response.output_audio.done', ...where });
    this.#send({ type: 'response.output_audio_transcript.done', ...where, transcript });
    this.#send({ type: 'response.content_part.done', ...where, part: { type: 'audio', transcript } });
  }

  #finishMessage(response: ActiveResponse, status: 'completed' | 'incomplete') {
    const { message, reply } = response;
    const audioMs = message.sent / 8;
    response.record.audio_ms = audioMs;
    const stored = this.#items.get(message.item.id as string);
    const transcript = stored?.audio?.transcript ?? reply.text;
    const content = response.modalities.includes('audio')
      ? [{ type: 'output_audio', transcript }]
      : [{ type: 'output_text', text: reply.text }];
    message.item = { ...message.item, status, content };
    if (stored) {
      stored.item = message.item;
      if (stored.audio) stored.audio.sentMs = audioMs;
    }
    response.output.push(message.item);
    if (response.conversation === 'auto')
      this.#send({ type: 'conversation.item.done', previous_item_id: message.previousItemId, item: message.item });
    this.#send({ type: 'response.output_item.done', response_id: response.id, output_index: 0, item: message.item });
    if (status === 'completed' && reply.endCall && response.tools.some(isEndCallTool)) this.#callEndCall(response);
    if (status === 'completed') this.#finishResponse(response, 'completed', null);
  }

  #callEndCall(response: ActiveResponse) {
    const tool = response.tools.find(isEndCallTool) as Json;
    const args = JSON.stringify(argumentsFor(tool.parameters));
    const callId = newId('call_');
    this.#callIds.add(callId);
    const where = { response_id: response.id, output_index: 1 };
    const item: Json = {
      id: newId('item_'),
      object: 'realtime.item',
      type: 'function_call',
      status: 'in_progress',
      name: 'end_call',
      call_id: callId,
      arguments: '',
    };
    this.#send({ type: 'response.output_item.added', ...where, item });
    if (response.conversation === 'auto') this.#send({ type: 'conversation.item.added', previous_item_id: this.#lastItemId, item });
    this.#send({ type: 'response.function_call_arguments.delta', ...where, item_id: item.id, call_id: callId, delta: args });
    this.#send({
      type: 'response.function_call_arguments.done',
      ...where,
      item_id: item.id,
      call_id: callId,
      name: 'end_call',
      arguments: args,
    });
    const done: Json = { ...item, status: 'completed', arguments: args };
    if (response.conversation === 'auto') {
      this.#send({ type: 'conversation.item.done', previous_item_id: this.#lastItemId, item: done });
      this.#remember(done.id as string, { item: done });
    }
    this.#send({ type: 'response.output_item.done', ...where, item: done });
    response.output.push(done);
    response.record.called_end_call = true;
  }

  #cancel(response: ActiveResponse, reason: 'turn_detected' | 'client_cancelled') {
    clearTimeout(response.timer);
    const where = { response_id: response.id, item_id: response.message.item.id, output_index: 0, content_index: 0 };
    if (response.modalities.includes('audio')) this.#endAudio(response, where);
    this.#finishMessage(response, 'incomplete');
    this.#finishResponse(response, 'cancelled', { type: 'cancelled', reason });
  }

  #finishResponse(response: ActiveResponse, status: 'completed' | 'cancelled', details: Json | null) {
    this.#responses.delete(response.id);
    response.record.status = status;
    this.#send({ type: 'response.done', response: this.#responseResource(response, status, details) });
    this.#send({
      type: 'rate_limits.updated',
      rate_limits: [{ name: 'tokens', limit: 15_000_000, remaining: 14_999_000, reset_seconds: 0.01 }],
    });
  }

  #responseResource(response: ActiveResponse, status: string, details: Json | null): Json {
    const outputTokens = Math.ceil(response.reply.text.length / 4);
    const audioTokens = Math.ceil(response.message.sent / 800);
    return {
      object: 'realtime.response',
      id: response.id,
      status,
      status_details: details,
      output: response.output,
      conversation_id: response.conversation === 'auto' ? this.#conversationId : null,
      output_modalities: response.modalities,
      max_output_tokens: 'inf',
      audio: { output: (this.#session.audio as Json).output },
      usage:
        status === 'in_progress'
          ? null
          : {
              total_tokens: outputTokens + audioTokens,
              input_tokens: 0,
              output_tokens: outputTokens + audioTokens,
              input_token_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0, cached_tokens: 0 },
              output_token_details: { text_tokens: outputTokens, audio_tokens: audioTokens },
            },
      metadata: response.metadata,
    };
  }
}

// ---- session configuration ----

function defaultSession(id: string, model: string): Json {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id,
    model,
    output_modalities: ['audio'],
    instructions: 'You are a helpful voice assistant. (This is the VCA realtime emulator.)',
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    truncation: 'auto',
    prompt: null,
    expires_at: Math.floor(Date.now() / 1000) + 3600,
    include: null,
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: null,
        noise_reduction: null,
        turn_detection: { ...SERVER_VAD_DEFAULTS },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy', speed: 1 },
    },
  };
}

// Only the fields present are updated; `null` clears; a new turn_detection starts from its defaults.
function mergeSession(current: Json, update: Json): Json {
  const next: Json = { ...current, ...update, object: 'realtime.session', id: current.id, model: current.model };
  if (update.audio !== undefined) {
    const audio = current.audio as Json;
    const patch = update.audio as Json;
    const input = { ...(audio.input as Json), ...((patch.input as Json | undefined) ?? {}) };
    const turn = (patch.input as Json | undefined)?.turn_detection;
    if (isObject(turn)) input.turn_detection = turn.type === 'server_vad' ? { ...SERVER_VAD_DEFAULTS, ...turn } : { ...turn };
    next.audio = { input, output: { ...(audio.output as Json), ...((patch.output as Json | undefined) ?? {}) } };
  }
  return next;
}

function validateSessionUpdate(session: unknown): ErrorDetails | null {
  if (!isObject(session))
    return { code: 'missing_required_parameter', message: "Missing required parameter: 'session'.", param: 'session' };
  if (session.type === undefined)
    return { code: 'missing_required_parameter', message: "Missing required parameter: 'session.type'.", param: 'session.type' };
  if (session.type === 'transcription') {
    return {
      code: 'invalid_value',
      message: 'Passing a transcription session update event to a realtime session is not allowed.',
      param: 'session.type',
    };
  }
  if (session.type !== 'realtime') {
    return {
      code: 'invalid_value',
      message: `Invalid value: '${String(session.type)}'. Supported values are: 'realtime' and 'transcription'.`,
      param: 'session.type',
    };
  }
  const unknown = unknownKey(session, SESSION_KEYS, 'session');
  if (unknown) return unknown;
  if (session.instructions !== undefined && typeof session.instructions !== 'string')
    return invalidType('session.instructions', 'a string');
  if (session.tools !== undefined && !Array.isArray(session.tools)) return invalidType('session.tools', 'an array');
  if (session.output_modalities !== undefined) {
    const problem = validateModalities(session.output_modalities, 'session.output_modalities');
    if (problem) return problem;
  }
  if (session.audio === undefined) return null;
  if (!isObject(session.audio)) return invalidType('session.audio', 'an object');
  const audioUnknown = unknownKey(session.audio, new Set(['input', 'output']), 'session.audio');
  if (audioUnknown) return audioUnknown;
  for (const [direction, keys] of [
    ['input', AUDIO_INPUT_KEYS],
    ['output', AUDIO_OUTPUT_KEYS],
  ] as const) {
    const part = session.audio[direction];
    if (part === undefined) continue;
    if (!isObject(part)) return invalidType(`session.audio.${direction}`, 'an object');
    const partUnknown = unknownKey(part, keys, `session.audio.${direction}`);
    if (partUnknown) return partUnknown;
    if (part.format !== undefined) {
      const type = isObject(part.format) ? part.format.type : undefined;
      if (type !== 'audio/pcmu') {
        return {
          code: 'invalid_value',
          message: `The realtime emulator speaks only audio/pcmu; got ${JSON.stringify(type ?? part.format)}.`,
          param: `session.audio.${direction}.format.type`,
        };
      }
    }
  }
  const input = session.audio.input;
  if (isObject(input) && input.turn_detection !== undefined && input.turn_detection !== null) {
    const type = isObject(input.turn_detection) ? input.turn_detection.type : undefined;
    if (type !== 'server_vad' && type !== 'semantic_vad') {
      return {
        code: 'invalid_value',
        message: `Invalid value: ${JSON.stringify(type)}. Supported values are: 'server_vad' and 'semantic_vad'.`,
        param: 'session.audio.input.turn_detection.type',
      };
    }
  }
  return null;
}

function validateResponseParams(response: unknown): ErrorDetails | null {
  if (!isObject(response)) return invalidType('response', 'an object');
  const unknown = unknownKey(response, RESPONSE_KEYS, 'response');
  if (unknown) return unknown;
  if (response.conversation !== undefined && response.conversation !== 'auto' && response.conversation !== 'none') {
    return {
      code: 'invalid_value',
      message: "The realtime emulator knows only the conversations 'auto' and 'none'.",
      param: 'response.conversation',
    };
  }
  if (response.instructions !== undefined && typeof response.instructions !== 'string')
    return invalidType('response.instructions', 'a string');
  if (response.metadata !== undefined && response.metadata !== null && !isObject(response.metadata))
    return invalidType('response.metadata', 'an object');
  if (response.output_modalities !== undefined) return validateModalities(response.output_modalities, 'response.output_modalities');
  return null;
}

function validateModalities(value: unknown, param: string): ErrorDetails | null {
  if (!Array.isArray(value) || value.length !== 1 || (value[0] !== 'audio' && value[0] !== 'text')) {
    return { code: 'invalid_value', message: `Invalid '${param}': expected ['audio'] or ['text'].`, param };
  }
  return null;
}

function validateItem(item: unknown, callIds: Set<string>): ErrorDetails | null {
  if (!isObject(item)) return { code: 'missing_required_parameter', message: "Missing required parameter: 'item'.", param: 'item' };
  if (item.type === 'function_call_output') {
    if (typeof item.call_id !== 'string')
      return { code: 'missing_required_parameter', message: "Missing required parameter: 'item.call_id'.", param: 'item.call_id' };
    if (typeof item.output !== 'string')
      return { code: 'missing_required_parameter', message: "Missing required parameter: 'item.output'.", param: 'item.output' };
    if (!callIds.has(item.call_id)) {
      return {
        code: 'invalid_value',
        message: `No function call with call_id '${item.call_id}' found in the conversation.`,
        param: 'item.call_id',
      };
    }
    return null;
  }
  if (item.type !== 'message') {
    return {
      code: 'invalid_value',
      message: "The realtime emulator accepts 'message' and 'function_call_output' items.",
      param: 'item.type',
    };
  }
  if (item.role !== 'user' && item.role !== 'system' && item.role !== 'assistant') {
    return {
      code: 'invalid_value',
      message: "Invalid value for 'item.role'. Supported values are: 'user', 'assistant' and 'system'.",
      param: 'item.role',
    };
  }
  if (!Array.isArray(item.content))
    return { code: 'missing_required_parameter', message: "Missing required parameter: 'item.content'.", param: 'item.content' };
  return null;
}

function unknownKey(object: Json, known: Set<string>, prefix: string): ErrorDetails | null {
  const key = Object.keys(object).find((name) => !known.has(name));
  return key === undefined
    ? null
    : { code: 'unknown_parameter', message: `Unknown parameter: '${prefix}.${key}'.`, param: `${prefix}.${key}` };
}

function invalidType(param: string, expected: string): ErrorDetails {
  return { code: 'invalid_type', message: `Invalid type for '${param}': expected ${expected}.`, param };
}

function turnDetection(session: Json): Json | null {
  const turn = ((session.audio as Json).input as Json).turn_detection;
  return isObject(turn) ? turn : null;
}

function transcriptionModel(session: Json): string | null {
  const transcription = ((session.audio as Json).input as Json).transcription;
  return isObject(transcription) ? String(transcription.model ?? 'whisper-1') : null;
}

function formatOf(session: Json, direction: 'input' | 'output'): string {
  const format = ((session.audio as Json)[direction] as Json).format;
  return isObject(format) ? String(format.type) : 'unset';
}

function toolNames(tools: unknown): string[] {
  return Array.isArray(tools) ? tools.filter(isObject).map((tool) => String(tool.name)) : [];
}

function isEndCallTool(tool: unknown): boolean {
  return isObject(tool) && tool.type === 'function' && tool.name === 'end_call';
}

/** Arguments that satisfy the tool's required parameters, whatever the session declared. */
function argumentsFor(parameters: unknown): Json {
  if (!isObject(parameters) || !Array.isArray(parameters.required)) return {};
  const properties = isObject(parameters.properties) ? parameters.properties : {};
  const args: Json = {};
  for (const name of parameters.required.map(String)) {
    const schema = properties[name];
    const type = isObject(schema) ? schema.type : undefined;
    const choices = isObject(schema) && Array.isArray(schema.enum) ? schema.enum : null;
    args[name] = choices
      ? choices[0]
      : type === 'number' || type === 'integer'
        ? 0
        : type === 'boolean'
          ? true
          : 'emulator: end_call_after_turns';
  }
  return args;
}

export function parseDirectives(instructions: string): Directives {
  const directives: Directives = {};
  for (const [, name, value] of instructions.matchAll(/^\s*\[emulator\]\s*([a-z_]+)\s*=\s*(\S+)\s*$/gm)) {
    const number = Number(value);
    if (name === 'fail' && value === 'start') directives.fail = 'start';
    else if (
      (name === 'slow_start_ms' || name === 'fail_after_ms' || name === 'end_call_after_turns') &&
      Number.isInteger(number) &&
      number >= 0
    ) {
      directives[name] = Math.min(number, 600_000);
    } else if (name === 'pace_percent' && Number.isInteger(number) && number >= 1 && number <= 1_000) {
      directives.pace_percent = number;
    }
  }
  return directives;
}

function newRecord(model: string): ConnectionRecord {
  return {
    session_id: newId('sess_'),
    model,
    opened_at: new Date().toISOString(),
    closed_at: null,
    close_code: null,
    closed_by_emulator: null,
    events_received: {},
    caller_audio_bytes: 0,
    instructions: null,
    directives: {},
    voice: null,
    tools: [],
    caller_turns: [],
    user_texts: [],
    function_call_outputs: [],
    truncations: [],
    responses: [],
    errors_sent: [],
  };
}

function applyMode(mode: EmulatorMode, patch: unknown): string | null {
  if (!isObject(patch)) return 'expected a JSON object';
  const unknown = Object.keys(patch).find((key) => key !== 'refuse_connections' && key !== 'slow_start_ms');
  if (unknown) return `unknown field ${unknown}`;
  if (patch.refuse_connections !== undefined && typeof patch.refuse_connections !== 'boolean')
    return 'refuse_connections must be a boolean';
  const slow = patch.slow_start_ms;
  if (slow !== undefined && !(Number.isInteger(slow) && (slow as number) >= 0 && (slow as number) <= 600_000)) {
    return 'slow_start_ms must be an integer from 0 to 600000';
  }
  if (typeof patch.refuse_connections === 'boolean') mode.refuse_connections = patch.refuse_connections;
  if (typeof slow === 'number') mode.slow_start_ms = slow;
  return null;
}

// ---- the words and the voice ----

/** The words the instructions quote ("Say exactly: "…""), if any. */
function quotedWords(instructions: string): string | null {
  const match = /"([^"\n]{1,500})"/.exec(instructions) ?? /“([^”\n]{1,500})”/.exec(instructions);
  return match?.[1]?.trim() || null;
}

/** Transcript deltas the way the model streams them: a word and its leading space at a time. */
function words(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

/** The words spoken in the first `share` of the audio, cut at a word boundary. */
function heardPrefix(text: string, share: number): string {
  const all = words(text);
  return all
    .slice(0, Math.floor(all.length * Math.min(1, Math.max(0, share))))
    .join('')
    .trim();
}

function textOf(item: Json): string | null {
  const parts = (item.content as unknown[]).filter((part) => isObject(part) && part.type === 'input_text' && typeof part.text === 'string');
  return parts.length ? parts.map((part) => (part as Json).text as string).join(' ') : null;
}

// A voice-like test signal, not speech: a 140 Hz fundamental with two harmonics under a 4 Hz
// syllable envelope, ~60 ms per character. Loud enough for any VAD, deterministic for tests.
function synthesiseVoice(text: string): Uint8Array {
  const ms = Math.min(10_000, Math.max(400, text.length * 60));
  const samples = Math.round(ms / FRAME_MS) * FRAME_BYTES;
  const out = new Uint8Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = i / 8000;
    const syllable = 0.35 + 0.65 * Math.abs(Math.sin(Math.PI * 4 * t));
    const edge = Math.min(1, t / 0.03, (samples - i) / 240);
    const wave = Math.sin(2 * Math.PI * 140 * t) + 0.5 * Math.sin(2 * Math.PI * 280 * t) + 0.25 * Math.sin(2 * Math.PI * 420 * t);
    out[i] = linearToMulaw(0.18 * 32767 * syllable * edge * wave);
  }
  return out;
}

// ---- small helpers ----

function newId(prefix: string): string {
  return prefix + randomBytes(15).toString('base64url').replace(/[-_]/g, 'x');
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

function capList(list: unknown[]) {
  if (list.length > MAX_LIST) list.splice(0, list.length - MAX_LIST);
}

/** A wait that does not keep the process alive (a closed connection just never resumes). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function apiKeyOf(request: IncomingMessage): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (bearer) return bearer;
  const protocols = String(request.headers['sec-websocket-protocol'] ?? '').split(',');
  const key = protocols.map((protocol) => protocol.trim()).find((protocol) => protocol.startsWith('openai-insecure-api-key.'));
  return key ? key.slice('openai-insecure-api-key.'.length) || null : null;
}

function refuseUpgrade(socket: Duplex, status: number, statusText: string, message: string) {
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code: null, param: null } });
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function sendJson(response: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > limit) {
        request.destroy();
        reject(new Error('body too large'));
      }
    });
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

// `node tools/realtime-emulator.ts [--port 8790] [--host 127.0.0.1] [--silence-ms N] [--pace N]
// [--chunk-ms N] [--slow-start-ms N] [--refuse-connections]`: prints the REALTIME_URL to use, then
// serves until killed.
if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8790' },
      host: { type: 'string', default: '127.0.0.1' },
      'silence-ms': { type: 'string' },
      pace: { type: 'string' },
      'chunk-ms': { type: 'string' },
      'slow-start-ms': { type: 'string' },
      'refuse-connections': { type: 'boolean', default: false },
    },
  });
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  const emulator = await startRealtimeEmulator({
    port: Number(values.port),
    host: values.host,
    silenceMs: number(values['silence-ms']),
    pace: number(values.pace),
    chunkMs: number(values['chunk-ms']),
    slowStartMs: number(values['slow-start-ms']),
    refuseConnections: values['refuse-connections'],
  });
  process.stdout.write(`${emulator.url}\n`);
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
