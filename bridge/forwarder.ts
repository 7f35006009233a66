// Signs an event with the shared Standard Webhooks module and sends it to the Worker over a
// keep-alive connection pool. It classifies the outcome; it never retries by itself.
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import type { z } from 'zod';
import {
  CallEndedAnswer,
  CallEndedBatchAnswer,
  InboundBatchAnswer,
  InboundCallAnswer,
  ROUTES_PAGE_MAX,
  RoutesPage,
} from '../contract/ingest.ts';
import { webhookHeaders } from '../contract/signing.ts';
import type { EventKind } from './spool.ts';

export type ForwardResult<Answer = unknown> =
  /** The Worker's answer, valid by the contract's schema (a 200 that is not one is a retry). */
  | { outcome: 'answered'; body: Answer }
  /**
   * Worth trying again later. `worker`: the Worker is not taking events (network trouble, timeout,
   * 408, 429, 502–504, or 401/403/404/415: our secret, clock, address or URL is refused — a
   * configuration problem, not the event's). `event`: the Worker failed on this event (500).
   */
  | { outcome: 'retry'; scope: 'worker' | 'event'; reason: string; retryAfterMs?: number; status?: number }
  /** The Worker will never accept this event as it is. */
  | { outcome: 'reject'; reason: string };

const ROUTES = {
  inbound: { path: '/internal/telephony/inbound', answer: InboundCallAnswer },
  'call-ended': { path: '/internal/telephony/call-ended', answer: CallEndedAnswer },
} as const satisfies Record<Exclude<EventKind, 'inbound-routed'>, { path: string; answer: z.ZodType }>;
const BATCH_PATH = '/internal/telephony/call-ended/batch';
const INBOUND_BATCH_PATH = '/internal/telephony/inbound/batch';
const ROUTES_PATH = '/internal/telephony/routes';

export class Forwarder {
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #secret: string;

  constructor(workerUrl: URL, secret: string) {
    this.#pool = new Pool(workerUrl.origin, { connections: 32, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
    this.#basePath = workerUrl.pathname.replace(/\/+$/, '');
    this.#secret = secret;
  }

  send(kind: 'inbound', payload: string, webhookId: string, timeoutMs: number): Promise<ForwardResult<InboundCallAnswer>>;
  send(
    kind: 'inbound' | 'call-ended',
    payload: string,
    webhookId: string,
    timeoutMs: number,
  ): Promise<ForwardResult<InboundCallAnswer | CallEndedAnswer>>;
  send(
    kind: 'inbound' | 'call-ended',
    payload: string,
    webhookId: string,
    timeoutMs: number,
  ): Promise<ForwardResult<InboundCallAnswer | CallEndedAnswer>> {
    const route = ROUTES[kind];
    return this.#request<InboundCallAnswer | CallEndedAnswer>('POST', route.path, route.answer, payload, webhookId, timeoutMs);
  }

  /**
   * Calls the bridge routed from its table (spooled JSON payloads), recorded in one request.
   * Answered: `body.results` holds one answer per call, in order.
   */
  async sendRoutedInbound(payloads: string[], timeoutMs: number): Promise<ForwardResult<InboundBatchAnswer>> {
    const body = `{"events":[${payloads.join(',')}]}`;
    const result = await this.#request('POST', INBOUND_BATCH_PATH, InboundBatchAnswer, body, `msg_batch_${randomUUID()}`, timeoutMs);
    if (result.outcome === 'answered' && result.body.results.length !== payloads.length) {
      return { outcome: 'retry', scope: 'worker', reason: 'the Worker answered the batch without one result per event' };
    }
    return result;
  }

  /** One page of the routes changed after `after` (GET, signed over its empty body). */
  fetchRoutes(after: number, timeoutMs: number, limit = ROUTES_PAGE_MAX): Promise<ForwardResult<RoutesPage>> {
    const path = `${ROUTES_PATH}?after=${after}&limit=${limit}`;
    return this.#request('GET', path, RoutesPage, '', `msg_routes_${randomUUID()}`, timeoutMs);
  }

  /**
   * Several call-ended events (spooled JSON payloads) in one request. Answered: `body.results`
   * holds one answer per event, in order. `unsupported`: this Worker has no batch endpoint (an
   * older deployment answers 404); send the events one by one.
   */
  async sendCallEndedBatch(
    payloads: string[],
    timeoutMs: number,
  ): Promise<ForwardResult<CallEndedBatchAnswer> | { outcome: 'unsupported' }> {
    const body = `{"events":[${payloads.join(',')}]}`;
    const result = await this.#request('POST', BATCH_PATH, CallEndedBatchAnswer, body, `msg_batch_${randomUUID()}`, timeoutMs);
    if (result.outcome === 'retry' && result.status === 404) return { outcome: 'unsupported' };
    if (result.outcome === 'answered' && result.body.results.length !== payloads.length) {
      return { outcome: 'retry', scope: 'worker', reason: 'the Worker answered the batch without one result per event' };
    }
    return result;
  }

  async #request<Answer>(
    method: 'GET' | 'POST',
    path: string,
    schema: z.ZodType<Answer>,
    payload: string,
    webhookId: string,
    timeoutMs: number,
  ): Promise<ForwardResult<Answer>> {
    try {
      const headers = await webhookHeaders(this.#secret, payload, webhookId);
      const response = await this.#pool.request({
        path: this.#basePath + path,
        method,
        headers: method === 'POST' ? { 'content-type': 'application/json', ...headers } : { ...headers },
        body: method === 'POST' ? payload : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.body.text();
      const status = response.statusCode;
      if (status === 200) {
        // Something answered that is not the Worker's contract (a proxy, a wrong VCA_WORKER_URL):
        // no answer at all, so nothing is taken as delivered or routed on its word.
        const answer = schema.safeParse(parseJson(text));
        return answer.success
          ? { outcome: 'answered', body: answer.data }
          : { outcome: 'retry', scope: 'worker', reason: 'the Worker answered 200 with a body that is not its answer' };
      }
      const reason = `the Worker answered ${status}${problemCode(text)}`;
      if (status === 500) return { outcome: 'retry', scope: 'event', reason, status };
      if (status >= 500 || [401, 403, 404, 408, 415, 429].includes(status)) {
        return { outcome: 'retry', scope: 'worker', reason, status, retryAfterMs: retryAfter(response.headers['retry-after']) };
      }
      // 400, 413, 422…: this event as it is will never be accepted.
      return { outcome: 'reject', reason };
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      const reason =
        name === 'TimeoutError' || name === 'AbortError'
          ? `no answer within ${timeoutMs} ms`
          : `cannot reach the Worker (${describe(error)})`;
      return { outcome: 'retry', scope: 'worker', reason };
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function problemCode(text: string): string {
  try {
    const code = JSON.parse(text)?.code;
    return typeof code === 'string' ? ` ${code}` : '';
  } catch {
    return '';
  }
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
function retryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message.slice(0, 120) : 'unknown error';
}
