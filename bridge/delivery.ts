// Delivers spooled events to the Worker in the background. Events of the same call go strictly in
// arrival order (a call's end never overtakes its start); different calls go up to `concurrency`
// at a time over the keep-alive pool. When the Worker is not taking events (unreachable, 5xx
// other than 500, 429, refused credentials) all delivery pauses with exponential backoff and full
// jitter (or the Worker's Retry-After), then probes with one event at a time until it answers, so
// an outage is neither hammered nor flooding the log. An event the Worker fails on by itself (500)
// backs off alone and is set aside after MAX_EVENT_ATTEMPTS; permanent refusals (400, 413) go to
// the dead letters at once. Either way the rest flows on.
import type { Forwarder, ForwardResult } from './forwarder.ts';
import { log } from './log.ts';
import type { SpooledEvent, SpoolQueue } from './spool.ts';

export interface DeliveryOptions {
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  concurrency: number;
}

export interface DeliveryHealth {
  last_delivery_error: string | null;
  worker_last_ok_at: string | null;
}

const IDLE_POLL_MS = 1_000;
/** An event the Worker keeps failing on (500) is set aside after this many attempts, not retried forever. */
export const MAX_EVENT_ATTEMPTS = 8;
const COMPACT_EVERY_MS = 60_000;
/** The most call-ended events in one request (the Worker takes up to 100). */
export const BATCH_MAX = 100;
/** After a Worker without the batch endpoint, how long to deliver one by one before asking again. */
const BATCH_RECHECK_MS = 10 * 60_000;

export class Deliverer {
  readonly #spool: SpoolQueue;
  readonly #forwarder: Forwarder;
  readonly #options: DeliveryOptions;
  readonly #inFlight = new Map<number, Promise<unknown>>();
  readonly #busyCalls = new Set<string>();
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #lastError: string | null = null;
  #lastOkAt: number | null = null;
  #lastCompactAt = 0;
  #failures = 0;
  #pausedUntil = 0;
  #inFlightEvents = 0;
  #batchUnsupportedUntil = 0;

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

  /** New events are waiting. */
  notify(): void {
    this.#wake?.();
  }

  /** The Worker answered a live call: it is reachable, so stop backing off and retry now. */
  workerAnswered(): void {
    this.#lastOkAt = Date.now();
    if (this.#failures > 0 || this.#pausedUntil > Date.now()) {
      this.#pausedUntil = 0;
      this.#spool.expedite();
      this.#wake?.();
    }
  }

  health(): DeliveryHealth {
    return {
      last_delivery_error: this.#lastError,
      worker_last_ok_at: this.#lastOkAt ? new Date(this.#lastOkAt).toISOString() : null,
    };
  }

  /** Stop taking new work; deliveries in flight finish (or time out) first. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    await Promise.all(this.#inFlight.values());
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const now = Date.now();
      if (this.#pausedUntil > now) {
        await this.#sleep(this.#pausedUntil - now);
        continue;
      }
      // While the Worker keeps failing, one probe at a time.
      const window = this.#failures > 0 ? 1 : this.#options.concurrency;
      const room = window - this.#inFlight.size;
      const dispatched = room > 0 ? this.#dispatch(room, now) : 0;
      if (dispatched === 0) {
        if (this.#inFlight.size === 0 && !this.#spool.head()) this.#compactWhenIdle();
        await this.#sleep(this.#inFlight.size > 0 ? IDLE_POLL_MS : this.#untilNextAttempt(now));
      }
    }
  }

  /**
   * Starts up to `room` deliveries from the oldest events; returns how many. While the Worker is
   * taking events, call-ended events ready at the same time travel together, up to BATCH_MAX in
   * one request (one connection and one statement at the Worker instead of one each): what makes
   * a backlog drain fast after an outage. A batch takes one slot of the window.
   */
  #dispatch(room: number, now: number): number {
    const batching = this.#failures === 0 && now >= this.#batchUnsupportedUntil;
    // The oldest events: past those in flight, enough to fill the window with batches.
    const candidates = this.#spool.oldest(this.#inFlightEvents + this.#options.concurrency * 8 + (batching ? room * BATCH_MAX : 0));
    const blocked = new Set(this.#busyCalls);
    let started = 0;
    let batch: SpooledEvent[] | undefined;
    for (const event of candidates) {
      if (started >= room && !batch) break;
      if (blocked.has(event.call_id)) continue;
      // Whatever happens to this event, later events of the same call wait behind it.
      blocked.add(event.call_id);
      if (event.next_attempt_at > now) continue;
      if (batching && event.kind === 'call-ended') {
        if (!batch) {
          if (started >= room) continue;
          batch = [];
          started++;
        }
        batch.push(event);
        if (batch.length === BATCH_MAX) {
          this.#start(batch);
          batch = undefined;
        }
      } else if (started < room) {
        this.#start([event]);
        started++;
      }
    }
    if (batch) this.#start(batch);
    return started;
  }

  #start(events: SpooledEvent[]): void {
    const [first] = events as [SpooledEvent];
    for (const event of events) this.#busyCalls.add(event.call_id);
    this.#inFlightEvents += events.length;
    const delivery = (events.length === 1 ? this.#deliver(first) : this.#deliverBatch(events)).finally(() => {
      this.#inFlight.delete(first.seq);
      for (const event of events) this.#busyCalls.delete(event.call_id);
      this.#inFlightEvents -= events.length;
      this.#wake?.();
    });
    this.#inFlight.set(first.seq, delivery);
  }

  async #deliverBatch(events: SpooledEvent[]): Promise<void> {
    let result: Awaited<ReturnType<Forwarder['sendCallEndedBatch']>>;
    try {
      result = await this.#forwarder.sendCallEndedBatch(
        events.map((event) => event.payload),
        this.#options.timeoutMs,
      );
    } catch (error) {
      result = { outcome: 'retry', scope: 'worker', reason: error instanceof Error ? error.message : 'unknown error' };
    }
    if (result.outcome === 'answered') {
      this.#spool.deliveredAll(events.map((event) => event.seq));
      this.#delivered(events);
      return;
    }
    if (result.outcome === 'retry' && result.scope === 'worker') {
      this.#failed(events, result);
      return;
    }
    if (result.outcome === 'unsupported') {
      this.#batchUnsupportedUntil = Date.now() + BATCH_RECHECK_MS;
      log.warn('the Worker has no call-ended batch endpoint; delivering events one by one', { recheck_in_ms: BATCH_RECHECK_MS });
    } else {
      log.warn('batch not taken; delivering its events one by one', { events: events.length, reason: result.reason });
    }
    // Refused as a whole (400, 413) or failed on by the Worker (500): one by one, so only the
    // event at fault is retried alone or set aside, and the others are delivered.
    // Stops at a failure of the Worker itself: the rest wait for the retry like everything else.
    for (const event of events) {
      if (!(await this.#deliver(event))) break;
    }
  }

  /** False when the Worker is not taking events (delivery is now paused). */
  async #deliver(event: SpooledEvent): Promise<boolean> {
    let result: ForwardResult;
    try {
      result = await this.#forwarder.send(event.kind, event.payload, event.webhook_id, this.#options.timeoutMs);
    } catch (error) {
      result = { outcome: 'retry', scope: 'worker', reason: error instanceof Error ? error.message : 'unknown error' };
    }
    if (result.outcome === 'answered') {
      this.#spool.delivered(event.seq);
      this.#delivered([event]);
    } else if (result.outcome === 'reject') {
      this.#spool.deadLetter(event.seq, result.reason);
      this.#lastError = result.reason;
      log.error('event refused by the Worker; kept in dead_letters', {
        seq: event.seq,
        kind: event.kind,
        call_id: event.call_id,
        reason: result.reason,
      });
    } else if (result.scope === 'event') {
      this.#failedAlone(event, result);
    } else {
      this.#failed([event], result);
      return false;
    }
    return true;
  }

  /** The Worker failed on this one event (500): it backs off alone, and is set aside after MAX_EVENT_ATTEMPTS. */
  #failedAlone(event: SpooledEvent, result: Extract<ForwardResult, { outcome: 'retry' }>): void {
    this.#lastError = result.reason;
    const attempt = event.attempts + 1;
    if (attempt >= MAX_EVENT_ATTEMPTS) {
      const reason = `${result.reason} (${attempt} attempts)`;
      this.#spool.deadLetter(event.seq, reason);
      log.error('event failed at the Worker too often; kept in dead_letters', {
        seq: event.seq,
        kind: event.kind,
        call_id: event.call_id,
        reason,
      });
      return;
    }
    const delay = this.#backoff(event.attempts, result.retryAfterMs);
    this.#spool.retryAt(event.seq, Date.now() + delay, result.reason);
    log.warn('the Worker failed on this event; retrying it alone', {
      seq: event.seq,
      kind: event.kind,
      call_id: event.call_id,
      attempt,
      retry_in_ms: delay,
      reason: result.reason,
    });
  }

  #delivered(events: SpooledEvent[]): void {
    this.#lastOkAt = Date.now();
    this.#lastError = null;
    this.#failures = 0;
    for (const event of events) {
      if (event.attempts > 0)
        log.info('spooled event delivered', { seq: event.seq, kind: event.kind, call_id: event.call_id, attempts: event.attempts + 1 });
    }
  }

  #failed(events: SpooledEvent[], result: Extract<ForwardResult, { outcome: 'retry' }>): void {
    const delay = this.#backoff(this.#failures, result.retryAfterMs);
    this.#failures++;
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + delay);
    for (const event of events) this.#spool.retryAt(event.seq, Date.now() + delay, result.reason);
    this.#lastError = result.reason;
    const [first] = events as [SpooledEvent];
    log.warn('delivery failed; pausing deliveries', {
      seq: first.seq,
      kind: first.kind,
      call_id: first.call_id,
      ...(events.length > 1 ? { batch_events: events.length } : {}),
      attempt: first.attempts + 1,
      retry_in_ms: delay,
      reason: result.reason,
    });
  }

  #backoff(failures: number, retryAfterMs: number | undefined): number {
    const ceiling = Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** Math.min(failures, 30));
    const jittered = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    return retryAfterMs === undefined ? jittered : Math.min(Math.max(retryAfterMs, jittered), this.#options.retryMaxMs * 5);
  }

  #untilNextAttempt(now: number): number {
    const next = this.#spool.nextAttemptAt();
    return next === null ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(10, next - now));
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
