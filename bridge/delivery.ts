// Delivers spooled events to the Worker in arrival order, one at a time, in the background.
// A failure holds the line (a call's end must not overtake its start) and is retried with
// exponential backoff and full jitter, or after the Worker's Retry-After. Permanent refusals move
// the event to the dead letters so the rest can flow.
import type { Forwarder } from './forwarder.ts';
import { log } from './log.ts';
import type { SpoolQueue } from './spool.ts';

export interface DeliveryOptions {
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface DeliveryHealth {
  last_delivery_error: string | null;
  worker_last_ok_at: string | null;
}

const IDLE_POLL_MS = 1_000;
const COMPACT_EVERY_MS = 60_000;

export class Deliverer {
  readonly #spool: SpoolQueue;
  readonly #forwarder: Forwarder;
  readonly #options: DeliveryOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #lastError: string | null = null;
  #lastOkAt: number | null = null;
  #lastCompactAt = 0;
  #workerBack = false;

  constructor(spool: SpoolQueue, forwarder: Forwarder, options: DeliveryOptions) {
    this.#spool = spool;
    this.#forwarder = forwarder;
    this.#options = options;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** New events are waiting: stop sleeping (a head that is backing off still waits its turn). */
  notify(): void {
    this.#wake?.();
  }

  /** The Worker answered a request directly (the inbound path): it is reachable again. */
  workerAnswered(): void {
    this.#lastOkAt = Date.now();
    if (this.#lastError) {
      this.#workerBack = true;
      this.#wake?.();
    }
  }

  health(): DeliveryHealth {
    return {
      last_delivery_error: this.#lastError,
      worker_last_ok_at: this.#lastOkAt ? new Date(this.#lastOkAt).toISOString() : null,
    };
  }

  /** Stop taking new work; the delivery in flight finishes (or times out) first. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const event = this.#spool.head();
      if (!event) {
        this.#compactWhenIdle();
        await this.#sleep(IDLE_POLL_MS);
        continue;
      }
      if (this.#workerBack) {
        // The Worker just answered a live call: it is back, so stop backing off.
        this.#workerBack = false;
        this.#spool.expedite();
        continue;
      }
      const wait = event.next_attempt_at - Date.now();
      if (wait > 0) {
        await this.#sleep(wait);
        continue;
      }
      const result = await this.#forwarder.send(event.kind, event.payload, event.webhook_id, this.#options.timeoutMs);
      if (result.outcome === 'answered') {
        this.#spool.delivered(event.seq);
        this.#lastOkAt = Date.now();
        this.#lastError = null;
        if (event.attempts > 0)
          log.info('spooled event delivered', { seq: event.seq, kind: event.kind, call_id: event.call_id, attempts: event.attempts + 1 });
      } else if (result.outcome === 'reject') {
        this.#spool.deadLetter(event.seq, result.reason);
        this.#lastError = result.reason;
        log.error('event refused by the Worker; kept in dead_letters', {
          seq: event.seq,
          kind: event.kind,
          call_id: event.call_id,
          reason: result.reason,
        });
      } else {
        const delay = this.#backoff(event.attempts, result.retryAfterMs);
        this.#spool.retryAt(event.seq, Date.now() + delay, result.reason);
        this.#lastError = result.reason;
        log.warn('delivery failed; will retry', {
          seq: event.seq,
          kind: event.kind,
          call_id: event.call_id,
          attempt: event.attempts + 1,
          retry_in_ms: delay,
          reason: result.reason,
        });
      }
    }
  }

  #backoff(attempts: number, retryAfterMs: number | undefined): number {
    const ceiling = Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** Math.min(attempts, 30));
    const jittered = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    return retryAfterMs === undefined ? jittered : Math.min(Math.max(retryAfterMs, jittered), this.#options.retryMaxMs * 5);
  }

  #compactWhenIdle(): void {
    if (Date.now() - this.#lastCompactAt < COMPACT_EVERY_MS) return;
    this.#lastCompactAt = Date.now();
    this.#spool.compact();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
