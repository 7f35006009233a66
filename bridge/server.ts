// The HTTP face the dialplan talks to (loopback only by default). Answers are in CURL
// "hashcompat" form, `key=value&…`, which the dialplan reads with HASH(). /inbound is answered
// from the routing table (router.ts) while it can be trusted, and by asking the Worker otherwise.
// The same port takes chan_websocket's media upgrade on /media (media.ts), for the calls /inbound routed.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type InboundCallPayload, maskPhoneNumber } from '../contract/ingest.ts';
import type { AnsweredCall } from './answered-calls.ts';
import { parseCallEnded, parseInbound } from './asterisk.ts';
import type { BridgeConfig } from './config.ts';
import type { Deliverer } from './delivery.ts';
import type { Forwarder } from './forwarder.ts';
import type { GroupCommit } from './group-commit.ts';
import { log } from './log.ts';
import type { MediaRelay } from './media.ts';
import type { RouteSync } from './route-sync.ts';
import type { RoutedCalls } from './routed-calls.ts';
import type { Router } from './router.ts';
import type { SpoolQueue } from './spool.ts';

export const MAX_BODY_BYTES = 16 * 1024;

/** Asterisk's cause for a call we could not route in time (temporary failure). */
const DEFERRED_HANGUP_CAUSE = 41;

interface Parts {
  config: BridgeConfig;
  spool: SpoolQueue;
  forwarder: Forwarder;
  deliverer: Deliverer;
  routes: RoutedCalls;
  media: MediaRelay;
  router: Router;
  routeSync: RouteSync;
  writes: GroupCommit;
}

class BadRequest extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function createBridgeServer(parts: Parts): Server {
  const server = createServer(async (request, response) => {
    try {
      const route = `${request.method} ${new URL(request.url ?? '/', 'http://bridge').pathname}`;
      if (route === 'POST /inbound') return await inbound(parts, await readFields(request), response);
      if (route === 'POST /call-ended') return await callEnded(parts, await readFields(request), response);
      if (route === 'GET /healthz') return healthz(parts, response);
      return answer(response, 404, { status: 'error', code: 'not_found' });
    } catch (error) {
      if (error instanceof BadRequest)
        return answer(response, error.status, {
          status: 'error',
          code: error.status === 413 ? 'too_large' : 'bad_request',
          detail: error.message,
        });
      log.error('unexpected error', { error: error instanceof Error ? error.name : 'unknown' });
      return answer(response, 500, { status: 'error', code: 'internal_error' });
    }
  });
  // Without an 'upgrade' listener Node would destroy every upgrade request's socket.
  server.on('upgrade', (request, socket, head) => parts.media.handleUpgrade(request, socket, head));
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 10_000;
  return server;
}

async function inbound(parts: Parts, fields: Record<string, unknown>, response: ServerResponse) {
  const parsed = parseInbound(fields);
  if (!parsed.success) throw new BadRequest(400, describeIssues(parsed.error.issues, fields));
  const call = parsed.data;
  const started = Date.now();
  const context = () => ({ call_id: call.call_id, caller_number: maskPhoneNumber(call.caller_number), elapsed_ms: Date.now() - started });

  let fromTable: Awaited<ReturnType<Router['route']>> = null;
  try {
    fromTable = await parts.router.route(call);
  } catch (error) {
    // The answer could not be made durable (a disk error): the Worker records the call instead.
    log.error('[INBOUND CALL] cannot write to the spool; asking the Worker', { ...context(), error: errorText(error) });
  }
  if (fromTable?.status === 'success') {
    const { call: answered, replay } = fromTable;
    log.info('[INBOUND CALL] routed', {
      ...context(),
      source: 'table',
      replay,
      call_record_id: answered.call_record_id,
      tenant_id: answered.tenant_id,
    });
    if (!replay && (await askerGone(response))) return endUnheard(parts, call, answered);
    return answerRouted(response, answered);
  }
  if (fromTable) {
    log.info('[INBOUND CALL] refused', { ...context(), source: 'table', code: fromTable.code, tenant_id: fromTable.tenant_id });
    return answer(response, 200, { status: 'error', code: fromTable.code });
  }
  return inboundFromWorker(parts, call, response, started);
}

/** The synchronous path, as before the routing table: the Worker routes and records the call while the caller waits. */
async function inboundFromWorker(parts: Parts, call: InboundCallPayload, response: ServerResponse, started: number) {
  const { config, spool, forwarder, deliverer, routes, router } = parts;
  const prior = router.priorAnswer(call);
  if (prior) {
    log.info('[INBOUND CALL] routed', {
      call_id: call.call_id,
      source: 'answered',
      replay: true,
      call_record_id: prior.call_record_id,
      tenant_id: prior.tenant_id,
    });
    return answerRouted(response, prior);
  }
  const payload = JSON.stringify(call);
  const webhookId = `msg_${randomUUID()}`;
  const result = await forwarder.send('inbound', payload, webhookId, config.BRIDGE_INBOUND_DEADLINE_MS);
  const context = {
    call_id: call.call_id,
    caller_number: maskPhoneNumber(call.caller_number),
    elapsed_ms: Date.now() - started,
    source: 'worker',
  };

  // The forwarder took only an answer the contract's schema accepts; anything else is no answer.
  if (result.outcome === 'answered') {
    deliverer.workerAnswered();
    const body = result.body;
    if (body.status === 'success') {
      // So that the same call asked again from the table gets the same id. Not waited for: the
      // Worker has the record already, this is only the bridge's memory of it.
      const answered = router.rememberWorkerAnswer(call, body, (error) =>
        log.error('[INBOUND CALL] cannot remember the answer', { call_id: call.call_id, error: errorText(error) }),
      );
      // Only a call routed here may hand its audio over (media.ts), and only with this route.
      routes.remember(answered);
      log.info('[INBOUND CALL] routed', { ...context, call_record_id: body.call_record_id, tenant_id: body.tenant_id });
      if (await askerGone(response)) return endUnheard(parts, call, answered);
      return answerRouted(response, answered);
    }
    log.info('[INBOUND CALL] refused', { ...context, code: body.code });
    return answer(response, 200, { status: 'error', code: body.code });
  }
  if (result.outcome === 'reject') {
    log.error('[INBOUND CALL] the Worker refused the request', { ...context, reason: result.reason });
    return answer(response, 200, { status: 'error', code: 'rejected' });
  }

  // The caller cannot wait longer: Asterisk rejects the call (cause 41), and the Worker hears of
  // it later — the call and, right behind it, its end as a failed call — so no record is lost.
  spool.enqueueAll([{ kind: 'inbound', callId: call.call_id, payload, webhookId }, failedEnd(call)]);
  deliverer.notify();
  log.warn('[INBOUND CALL] deferred', { ...context, reason: result.reason });
  return answer(response, 200, { status: 'deferred' });
}

async function callEnded({ spool, deliverer, writes }: Parts, fields: Record<string, unknown>, response: ServerResponse) {
  const parsed = parseCallEnded(fields);
  if (!parsed.success) throw new BadRequest(400, describeIssues(parsed.error.issues, fields));
  const event = parsed.data;
  // Durable before the 202, in the same commits as the other requests of the moment.
  await writes.add(() => spool.enqueue('call-ended', event.call_id, JSON.stringify(event), `msg_${randomUUID()}`));
  deliverer.notify();
  log.info('[CALL ENDED] queued', {
    call_id: event.call_id,
    duration_seconds: parsed.data.duration_seconds,
    hangup_cause: parsed.data.hangup_cause,
  });
  return answer(response, 202, { status: 'queued' });
}

function healthz({ spool, deliverer, media, routeSync }: Parts, response: ServerResponse) {
  const stats = spool.stats();
  const delivery = deliverer.health();
  const routes = routeSync.health();
  const body = {
    status: (stats.depth > 0 && delivery.last_delivery_error) || routes.last_error ? 'degraded' : 'ok',
    spool: {
      depth: stats.depth,
      oldest_pending_age_seconds: stats.oldest_received_at === null ? null : Math.floor((Date.now() - stats.oldest_received_at) / 1000),
      dead_letters: stats.dead_letters,
    },
    ...delivery,
    routes,
    media: media.health(),
  };
  response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

/**
 * Asterisk closed the connection before the answer went out: its CURL gave up. Asterisk's CURL
 * never half-closes while it waits, so a close read before the answer means nobody will read it.
 * A close that arrived with the request (a bridge that was stalled) is read one turn of the event
 * loop later (libuv stops at a partial read), hence the setImmediate.
 */
async function askerGone(response: ServerResponse): Promise<boolean> {
  await new Promise((resolve) => setImmediate(resolve));
  return response.destroyed || !response.socket || response.socket.readableEnded;
}

/** The end of a call Asterisk rejected with cause 41 before it heard an answer: talk time 0. */
function failedEnd(call: InboundCallPayload) {
  return {
    kind: 'call-ended' as const,
    callId: call.call_id,
    payload: JSON.stringify({
      call_id: call.call_id,
      called_number: call.called_number,
      ended_at: Math.floor(Date.now() / 1000),
      duration_seconds: 0,
      hangup_cause: DEFERRED_HANGUP_CAUSE,
    }),
    webhookId: `msg_${randomUUID()}`,
  };
}

/**
 * A call routed (and recorded) after Asterisk stopped waiting: its CURL gave up (httptimeout, 4 s:
 * a bridge stalled by a slow disk or a paused process) and closed the connection, so the dialplan
 * rejected the call with cause 41 and its hangup handler, having no answer, posts no end. Without
 * an end here the call would stay `initiated` for good; it gets the end the dialplan gave it.
 */
async function endUnheard({ spool, deliverer, writes }: Parts, call: InboundCallPayload, answered: AnsweredCall) {
  const ended = failedEnd(call);
  await writes.add(() => spool.enqueue(ended.kind, ended.callId, ended.payload, ended.webhookId));
  deliverer.notify();
  log.warn('[INBOUND CALL] answered after Asterisk gave up; recorded as failed', {
    call_id: call.call_id,
    call_record_id: answered.call_record_id,
    tenant_id: answered.tenant_id,
  });
}

/** A routed call, as the dialplan reads it. */
function answerRouted(response: ServerResponse, call: AnsweredCall) {
  return answer(response, 200, {
    status: 'success',
    call_record_id: call.call_record_id,
    tenant_id: call.tenant_id,
    ai_profile_id: call.ai_profile_id ?? '',
    ai_profile_role: call.ai_profile_role ?? '',
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 200) : 'unknown error';
}

function answer(response: ServerResponse, status: number, fields: Record<string, string>) {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(new URLSearchParams(fields).toString());
}

/** The request's fields: form-urlencoded (what CURL() sends) or JSON. Repeated or nested fields are refused. */
async function readFields(request: IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(request.headers['content-length']);
  if (declared > MAX_BODY_BYTES) {
    request.resume();
    throw new BadRequest(413, `bodies are limited to ${MAX_BODY_BYTES} bytes`);
  }
  const text = (await readBody(request)).toString('utf8');
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new BadRequest(400, 'the body is not valid JSON');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BadRequest(400, 'the body must be a JSON object');
    return parsed as Record<string, unknown>;
  }
  if (type && type !== 'application/x-www-form-urlencoded')
    throw new BadRequest(415, 'send application/x-www-form-urlencoded or application/json');
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    if (key in fields) throw new BadRequest(400, `field ${key} is repeated`);
    fields[key] = value;
  }
  return fields;
}

/**
 * The body, up to MAX_BODY_BYTES. With listeners rather than `for await`: an async iterator per
 * request cost more than reading the body itself. Past the limit the rest is read and dropped,
 * so that the 413 still reaches the client.
 */
function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else {
        chunks = [];
        reject(new BadRequest(413, `bodies are limited to ${MAX_BODY_BYTES} bytes`));
      }
    });
    request.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    request.on('error', reject);
    request.on('close', () => {
      if (!request.complete) reject(new BadRequest(400, 'the body was cut short'));
    });
  });
}

function describeIssues(
  issues: { path: PropertyKey[]; message: string; code: string; keys?: string[] }[],
  fields: Record<string, unknown>,
): string {
  return issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys' && issue.keys) return `unknown field ${issue.keys.join(', ')}`;
      const name = String(issue.path[0] ?? 'body');
      return fields[name] === undefined && issue.path.length > 0 ? `${name} is missing` : `${name}: ${issue.message}`;
    })
    .join('; ');
}
