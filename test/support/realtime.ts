// A Realtime API client driven the way the VCA call session drives the model: JSON events over one
// `ws` WebSocket with a bearer key. Every server event is kept in arrival order; `next` walks them
// forward, so a test reads as the sequence of events it expects.
import { createRequire } from 'node:module';
import type * as WS from 'ws';

// Vite can resolve `ws` to its browser stub; require() gets the Node build.
const WebSocket = createRequire(import.meta.url)('ws') as typeof WS.WebSocket;

export type RealtimeEvent = Record<string, any>;

export interface RealtimeClient {
  events: RealtimeEvent[];
  send(event: RealtimeEvent): void;
  sendRaw(data: string | Buffer): void;
  /** The first event of `type` (and matching `where`) after the last one `next` returned. */
  next(type: string, where?: (event: RealtimeEvent) => boolean, timeoutMs?: number): Promise<RealtimeEvent>;
  /** Every event of `type` received so far. */
  all(type: string, where?: (event: RealtimeEvent) => boolean): RealtimeEvent[];
  /** Resolves with the close code once the socket is closed. */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export function connectRealtime(
  url: string,
  {
    model = 'gpt-realtime',
    key = 'test-key',
    headers = {},
  }: { model?: string | null; key?: string; headers?: Record<string, string> } = {},
): Promise<RealtimeClient> {
  const target = model === null ? url : `${url}?model=${encodeURIComponent(model)}`;
  const ws = new WebSocket(target, { headers: { authorization: `Bearer ${key}`, ...headers } });
  const events: RealtimeEvent[] = [];
  const waiters = new Set<() => void>();
  let cursor = 0;
  ws.on('message', (data) => {
    events.push(JSON.parse(String(data)));
    for (const wake of waiters) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolve({ code, reason: String(reason) });
      for (const wake of waiters) wake();
    }),
  );
  const find = (type: string, where?: (event: RealtimeEvent) => boolean) => {
    for (let i = cursor; i < events.length; i++) {
      const event = events[i] as RealtimeEvent;
      if (event.type === type && (!where || where(event))) {
        cursor = i + 1;
        return event;
      }
    }
    return undefined;
  };
  const client: RealtimeClient = {
    events,
    send: (event) => ws.send(JSON.stringify(event)),
    sendRaw: (data) => ws.send(data),
    next: (type, where, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const found = find(type, where);
        if (found) return resolve(found);
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${type} within ${timeoutMs} ms; got ${events.map((event) => event.type).join(', ')}`));
        }, timeoutMs);
        const check = () => {
          const event = find(type, where);
          if (event || ws.readyState === ws.CLOSED) {
            clearTimeout(timer);
            waiters.delete(check);
            if (event) resolve(event);
            else reject(new Error(`socket closed before ${type}`));
          }
        };
        waiters.add(check);
      }),
    all: (type, where) => events.filter((event) => event.type === type && (!where || where(event))),
    closed,
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('error', reject);
  });
}

/** The HTTP status an upgrade is refused with (101 when it is accepted). */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.close();
    });
    ws.once('error', (error) => {
      if (!String(error.message).includes('Unexpected server response')) reject(error);
    });
  });
}

/** Appends μ-law audio in 20 ms events, as fast as the socket takes them (turn detection counts audio time). */
export function sendCallerAudio(client: RealtimeClient, audio: Uint8Array) {
  for (let offset = 0; offset < audio.length; offset += 160) {
    client.send({ type: 'input_audio_buffer.append', audio: Buffer.from(audio.subarray(offset, offset + 160)).toString('base64') });
  }
}

/** The bytes of every `response.output_audio.delta` of one response, joined. */
export function responseAudio(client: RealtimeClient, responseId: string): Buffer {
  return Buffer.concat(
    client
      .all('response.output_audio.delta', (event) => event.response_id === responseId)
      .map((event) => Buffer.from(event.delta, 'base64')),
  );
}
