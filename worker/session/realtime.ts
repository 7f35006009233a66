// The realtime voice model, spoken to in the OpenAI Realtime protocol (GA event shapes) over one
// outbound WebSocket per call. Any service that speaks the protocol can stand behind REALTIME_URL
// (the emulator in tools/ does, for development and tests). Audio stays G.711 μ-law at 8 kHz
// (`audio/pcmu`) both ways: the session never resamples.
import { toBase64 } from '../../contract/base64.ts';

export interface RealtimeOptions {
  url: string;
  model: string;
  apiKey: string;
  /** Connect and have the session configured within this, or fail. */
  deadlineMs: number;
}

export interface SessionSettings {
  instructions: string;
  voice: string;
  language: string | null;
}

/** A server event: `type` and whatever fields the protocol gives it. */
export type ServerEvent = { type: string; [field: string]: unknown };

export class RealtimeUnavailable extends Error {
  override readonly name = 'RealtimeUnavailable';
}

export const END_CALL_TOOL = 'end_call';

/** Opens the socket and configures the session; resolves once the model confirmed it (session.updated). */
export async function connectRealtime(
  options: RealtimeOptions,
  settings: SessionSettings,
  onEvent: (event: ServerEvent) => void,
  onClose: (code: number) => void,
): Promise<RealtimeConnection> {
  // Not AbortSignal.timeout(): a signal given to fetch() stays tied to the socket it opens, and
  // firing after the start would cut the call. This one is only ever aborted before the start.
  const starting = new AbortController();
  const timer = setTimeout(() => starting.abort(), options.deadlineMs);
  const deadline = starting.signal;
  const url = new URL(options.url);
  // workerd opens client WebSockets with fetch(): it wants the http(s) form of the URL.
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  url.searchParams.set('model', options.model);
  let response: Response;
  try {
    response = await fetch(url, { headers: { upgrade: 'websocket', authorization: `Bearer ${options.apiKey}` }, signal: deadline });
  } catch (error) {
    clearTimeout(timer);
    throw new RealtimeUnavailable(
      deadline.aborted ? `no answer within ${options.deadlineMs} ms` : `cannot connect (${error instanceof Error ? error.name : 'error'})`,
    );
  }
  const socket = response.webSocket;
  if (!socket) {
    clearTimeout(timer);
    throw new RealtimeUnavailable(`the model service answered ${response.status} to the upgrade`);
  }
  socket.accept();
  const connection = new RealtimeConnection(socket);

  const configured = new Promise<void>((resolve, reject) => {
    const fail = (reason: string) => reject(new RealtimeUnavailable(reason));
    deadline.addEventListener('abort', () => fail(`the session was not ready within ${options.deadlineMs} ms`));
    socket.addEventListener('message', (message) => {
      const event = parseEvent(message.data);
      if (!event) return;
      if (event.type === 'session.updated') resolve();
      if (event.type === 'error' && !connection.ready) fail(`the model refused the session (${errorCode(event)})`);
      onEvent(event);
    });
    socket.addEventListener('close', (close) => {
      fail(`the model closed the connection (${close.code})`);
      onClose(close.code);
    });
  });
  connection.send({ type: 'session.update', session: sessionConfig(settings) });
  try {
    await configured;
  } catch (error) {
    connection.close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  connection.ready = true;
  return connection;
}

export class RealtimeConnection {
  readonly #socket: WebSocket;
  ready = false;

  constructor(socket: WebSocket) {
    this.#socket = socket;
  }

  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  send(event: Record<string, unknown>): void {
    if (this.open) this.#socket.send(JSON.stringify(event));
  }

  /** Caller audio, μ-law bytes. */
  appendAudio(ulaw: Uint8Array): void {
    this.send({ type: 'input_audio_buffer.append', audio: toBase64(ulaw) });
  }

  close(): void {
    try {
      this.#socket.close(1000, 'call ended');
    } catch {
      // already closed
    }
  }
}

function sessionConfig(settings: SessionSettings) {
  return {
    type: 'realtime',
    instructions: settings.instructions,
    output_modalities: ['audio'],
    audio: {
      input: {
        format: { type: 'audio/pcmu' },
        transcription: { model: 'gpt-4o-mini-transcribe', ...(settings.language ? { language: settings.language.split('-')[0] } : {}) },
        turn_detection: { type: 'server_vad', create_response: true, interrupt_response: true },
      },
      output: { format: { type: 'audio/pcmu' }, voice: settings.voice },
    },
    tools: [
      {
        type: 'function',
        name: END_CALL_TOOL,
        description: 'Hang up the phone call. Call it only after you have said goodbye and the caller has nothing more to ask.',
        parameters: { type: 'object', properties: {}, required: [] },
      },
    ],
    tool_choice: 'auto',
  };
}

export function parseEvent(data: unknown): ServerEvent | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const event = JSON.parse(data) as unknown;
    return event && typeof event === 'object' && typeof (event as ServerEvent).type === 'string' ? (event as ServerEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** The code of an `error` event, for logs: never its message (it may quote the conversation). */
export function errorCode(event: ServerEvent): string {
  const error = event.error as { code?: unknown; type?: unknown } | undefined;
  return String(error?.code ?? error?.type ?? 'unknown');
}
