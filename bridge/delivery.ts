// Delivers spooled events to the Worker in the background. Events of the same call go strictly in
// arrival order (a call's end never overtakes its start); different calls go up to `concurrency`
// at a time over the keep-alive pool. When the Worker is not taking events (unreachable, 5xx
// other than 500, 429, refused credentials) the whole queue pauses, with one shared backoff
// (exponential with jitter, capped at `probeIntervalMs`, or the Worker's Retry-After), and then
// probes with one real event at a time: only an event the Worker takes proves it is back (its
// /healthz would not show refused credentials or a broken route). The pause lives here, not in
// the events: a probe that fails leaves its event untouched, so once the Worker answers everything
// goes at once, at full concurrency and in batches, and a restart starts with a clean slate.
// An event the Worker fails on by itself (500) backs off alone and is set aside after
// MAX_EVENT_ATTEMPTS; permanent refusals (400, 413) go to the dead letters at once. Either way the
// rest flows on. Calls the bridge routed from its table (inbound-routed) always travel through
// /inbound/batch, in batches like call-ended events.
import { CALL_ENDED_BATCH_MAX, INBOUND_BATCH_MAX, type InboundBatchAnswer, type RoutedInboundAnswer } from '../contract/ingest.ts';
import type { ForwardResult } from './forwarder.ts';
import { log } from './log.ts';
import type { EventKind, SpooledEvent, SpoolQueue } from './spool.ts';

export interface DeliveryOptions {
  timeoutMs: number;
  retryBaseMs: number;
  /** The longest an event the Worker failed on (500) waits for its next attempt. */
  retryMaxMs: number;
  concurrency: number;
  /**
   * The longest the queue stays paused while the Worker is not taking events (never above
   * retryMaxMs; a Retry-After may ask for longer): how soon a probe finds the Worker back.
   */
  probeIntervalMs?: number;
  /** How often the loop looks at the spool when nothing wakes it. */
  idlePollMs?: number;
  /** After a Worker without the batch endpoint, how long to deliver one by one before asking again. */
  batchRecheckMs?: number;
  /** The Worker takes events again after a pause: whatever else waits on it can go now too. */
  onResumed?: () => void;
}

/**
 * What delivery needs of the Forwarder. It looks at outcomes, not at the answers' contents, but
 * for routed calls: their answers say which were recorded.
 */
export interface EventForwarder {
  send(kind: 'inbound' | 'call-ended', payload: string, webhookId: string, timeoutMs: number): Promise<ForwardResult>;
  sendCallEndedBatch(payloads: string[], timeoutMs: number): Promise<ForwardResult | { outcome: 'unsupported' }>;
  sendRoutedInbound(payloads: string[], timeoutMs: number): Promise<ForwardResult<InboundBatchAnswer>>;
}

/** The most events of each kind one request carries. */
const BATCH_MAX: Partial<Record<EventKind, number>> = { 'call-ended': CALL_ENDED_BATCH_MAX, 'inbound-routed': INBOUND_BATCH_MAX };

export interface DeliveryHealth {
  last_delivery_error: string | null;
  worker_last_ok_at: string | null;
}

const IDLE_POLL_MS = 1_000;
/** With jitter, a paused queue probes every 2.5–5 s: the Worker is found back well within 10 s. */
export const PROBE_INTERVAL_MS = 5_000;
/** An event the Worker keeps failing on (500) is set aside after this many attempts, not retried forever. */
export const MAX_EVENT_ATTEMPTS = 8;
const COMPACT_EVERY_MS = 60_000;
const BATCH_RECHECK_MS = 10 * 60_000;
/** While paused, a probe that fails again is logged at most this often (with the count so far). */
const PAUSED_LOG_EVERY_MS = 60_000;

type Retry = Extract<ForwardResult, { outcome: 'retry' }>;

export class Deliverer {
  readonly #spool: SpoolQueue;
  readonly #forwarder: EventForwarder;
  readonly #options: Required<DeliveryOptions>;
  readonly #inFlight = new Map<number, Promise<unknown>>();
  readonly #busyCalls = new Set<string>();
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #lastError: string | null = null;
  #lastOkAt: number | null = null;
  #lastCompactAt = 0;
  #inFlightEvents = 0;
  /** Kinds with a batch in flight that was not full: the next one waits for it, growing meanwhile. */
  readonly #partialInFlight = new Set<EventKind>();
  /** Events of each kind spooled since the last look at the spool (notify(kind)). */
  readonly #arrived = new Map<EventKind, number>();
  #batchUnsupportedUntil = 0;
  /** The pause, while the Worker is not taking events; undefined while it is. */
  #pause: { since: number; until: number; probes: number; loggedAt: number; reason: string } | undefined;
  /**
   * Counts pauses. A delivery remembers the count it was sent under, so a request sent before
   * the pause began (one of the `concurrency` in flight when the Worker went away) neither
   * lengthens the pause when it fails nor ends it when it succeeds: only probes do.
   */
  #pauses = 0;

  constructor(spool: SpoolQueue, forwarder: EventForwarder, options: DeliveryOptions) {
    this.#spool = spool;
    this.#forwarder = forwarder;
    this.#options = {
      probeIntervalMs: PROBE_INTERVAL_MS,
      idlePollMs: IDLE_POLL_MS,
      batchRecheckMs: BATCH_RECHECK_MS,
      onResumed: () => {},
      ...options,
    };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    // Retry times written before this start (by a bridge before this one, which kept a Worker
    // outage in each event's next_attempt_at) must not hold anything back; an event backing off
    // alone gets one early attempt, which still counts towards MAX_EVENT_ATTEMPTS.
    this.#spool.expedite();
    this.#loop = this.#run();
  }

  /**
   * New events are waiting. With their kind: while a batch of that kind that was not full is in
   * flight, the next one waits for it anyway (#dispatch), so the spool is looked at again only
   * once a full batch has arrived (or when the one in flight returns). A busy PBX spools a call
   * in every commit; reading the spool's head again for each of them cost the bridge a tenth of
   * its time and started nothing.
   */
  notify(kind?: EventKind): void {
    if (kind && this.#partialInFlight.has(kind)) {
      const arrived = (this.#arrived.get(kind) ?? 0) + 1;
      this.#arrived.set(kind, arrived);
      if (arrived < (BATCH_MAX[kind] ?? 1)) return;
    }
    this.#wake?.();
  }

  /** The Worker answered a live call: it is reachable, so stop backing off and retry now. */
  workerAnswered(): void {
    this.#lastOkAt = Date.now();
    this.#resume('a live call');
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
      if (this.#pause && this.#pause.until > now) {
        await this.#sleep(this.#pause.until - now);
        continue;
      }
      // While paused, one probe at a time (none while requests sent before the pause are still
      // out: they fail or time out soon).
      const window = this.#pause ? 1 : this.#options.concurrency;
      const room = window - this.#inFlight.size;
      const dispatched = room > 0 ? this.#dispatch(room, now) : 0;
      if (dispatched === 0) {
        if (this.#inFlight.size === 0 && !this.#spool.head()) this.#compactWhenIdle();
        await this.#sleep(this.#inFlight.size > 0 ? this.#options.idlePollMs : this.#untilNextAttempt(now));
      }
    }
  }

  /**
   * Starts up to `room` deliveries from the oldest events; returns how many. While the Worker is
   * taking events, events of one kind ready at the same time travel together (call-ended up to
   * CALL_ENDED_BATCH_MAX, routed calls up to INBOUND_BATCH_MAX in one request: one connection and
   * one statement at the Worker instead of one each): what keeps up with a busy PBX and makes a
   * backlog drain fast after an outage. A batch takes one slot of the window. Full batches go as
   * many at a time as the window allows; of a kind, only one batch that is not full is in flight:
   * under a steady load the next one collects what arrives meanwhile, instead of every call
   * costing the Worker a request of its own.
   */
  #dispatch(room: number, now: number): number {
    this.#arrived.clear();
    const batching = !this.#pause;
    const callEndedBatches = batching && now >= this.#batchUnsupportedUntil;
    // The oldest events: past those in flight, enough to fill the window with batches.
    const candidates = this.#spool.oldest(
      this.#inFlightEvents + this.#options.concurrency * 8 + (batching ? room * CALL_ENDED_BATCH_MAX : 0),
    );
    const blocked = new Set(this.#busyCalls);
    let started = 0;
    const open = new Map<EventKind, SpooledEvent[]>();
    for (const event of candidates) {
      if (started >= room && open.size === 0) break;
      if (blocked.has(event.call_id)) continue;
      // Whatever happens to this event, later events of the same call wait behind it.
      blocked.add(event.call_id);
      if (event.next_attempt_at > now) continue;
      const max = BATCH_MAX[event.kind];
      if (max && batching && (event.kind !== 'call-ended' || callEndedBatches)) {
        let batch = open.get(event.kind);
        if (!batch) {
          if (started >= room) continue;
          batch = [];
          open.set(event.kind, batch);
          started++;
        }
        batch.push(event);
        if (batch.length === max) {
          this.#start(batch);
          open.delete(event.kind);
        }
      } else if (started < room) {
        this.#start([event]);
        started++;
      }
    }
    for (const [kind, batch] of open) {
      if (this.#partialInFlight.has(kind)) started--;
      else this.#start(batch, kind);
    }
    return started;
  }

  /** `partial`: the kind of a batch sent before it was full. */
  #start(events: SpooledEvent[], partial?: EventKind): void {
    const [first] = events as [SpooledEvent];
    if (partial) this.#partialInFlight.add(partial);
    for (const event of events) this.#busyCalls.add(event.call_id);
    this.#inFlightEvents += events.length;
    const sentUnder = this.#pauses;
    const delivery = (events.length === 1 ? this.#deliver(first, sentUnder) : this.#deliverBatch(events, sentUnder)).finally(() => {
      this.#inFlight.delete(first.seq);
      if (partial) this.#partialInFlight.delete(partial);
      for (const event of events) this.#busyCalls.delete(event.call_id);
      this.#inFlightEvents -= events.length;
      this.#wake?.();
    });
    this.#inFlight.set(first.seq, delivery);
  }

  async #deliverBatch(events: SpooledEvent[], sentUnder: number): Promise<void> {
    const [first] = events as [SpooledEvent];
    const payloads = events.map((event) => event.payload);
    let result: Awaited<ReturnType<EventForwarder['sendCallEndedBatch']>>;
    try {
      result =
        first.kind === 'inbound-routed'
          ? await this.#forwarder.sendRoutedInbound(payloads, this.#options.timeoutMs)
          : await this.#forwarder.sendCallEndedBatch(payloads, this.#options.timeoutMs);
    } catch (error) {
      result = { outcome: 'retry', scope: 'worker', reason: error instanceof Error ? error.message : 'unknown error' };
    }
    if (result.outcome === 'answered') {
      if (first.kind === 'inbound-routed') this.#recorded(events, (result.body as InboundBatchAnswer).results);
      else this.#spool.deliveredAll(events.map((event) => event.seq));
      this.#delivered(events, sentUnder);
      return;
    }
    if (result.outcome === 'retry' && result.scope === 'worker') {
      this.#failed(events, result, sentUnder);
      return;
    }
    if (result.outcome === 'unsupported') {
      this.#batchUnsupportedUntil = Date.now() + this.#options.batchRecheckMs;
      log.warn('the Worker has no call-ended batch endpoint; delivering events one by one', {
        recheck_in_ms: this.#options.batchRecheckMs,
      });
    } else {
      log.warn('batch not taken; delivering its events one by one', { events: events.length, reason: result.reason });
    }
    // Refused as a whole (400, 413) or failed on by the Worker (500): one by one, so only the
    // event at fault is retried alone or set aside, and the others are delivered.
    // Stops at a failure of the Worker itself: the rest wait for the retry like everything else.
    for (const event of events) {
      if (!(await this.#deliver(event, sentUnder))) break;
    }
  }

  /**
   * The Worker's answers to routed calls: each recorded one is delivered; one it
   * refused (its DID no longer belongs to the route the bridge used) is kept in dead_letters.
   */
  #recorded(events: SpooledEvent[], results: RoutedInboundAnswer[]): void {
    const delivered: number[] = [];
    events.forEach((event, index) => {
      const result = results[index];
      const call = JSON.parse(event.payload) as { call_record_id: string; call_id: string };
      if (result?.status === 'success') {
        delivered.push(event.seq);
        if (result.call_record_id !== call.call_record_id) {
          // Recorded before under another id (by the Worker's own path): Asterisk has ours.
          log.warn('[INBOUND CALL] the Worker had recorded this call under another id', {
            call_id: call.call_id,
            call_record_id: call.call_record_id,
            recorded_as: result.call_record_id,
          });
        }
        return;
      }
      const reason = `the Worker refused the routed call: ${result?.code ?? 'no answer'}`;
      this.#spool.deadLetter(event.seq, reason);
      this.#lastError = reason;
      log.error('[INBOUND CALL] routed call refused by the Worker; kept in dead_letters', {
        seq: event.seq,
        call_id: call.call_id,
        call_record_id: call.call_record_id,
        reason,
      });
    });
    this.#spool.deliveredAll(delivered);
  }

  /** False when the Worker is not taking events (delivery is now paused). */
  async #deliver(event: SpooledEvent, sentUnder: number): Promise<boolean> {
    let result: ForwardResult;
    try {
      result =
        event.kind === 'inbound-routed'
          ? await this.#forwarder.sendRoutedInbound([event.payload], this.#options.timeoutMs)
          : await this.#forwarder.send(event.kind, event.payload, event.webhook_id, this.#options.timeoutMs);
    } catch (error) {
      result = { outcome: 'retry', scope: 'worker', reason: error instanceof Error ? error.message : 'unknown error' };
    }
    if (result.outcome === 'answered') {
      if (event.kind === 'inbound-routed') this.#recorded([event], (result.body as InboundBatchAnswer).results);
      else this.#spool.delivered(event.seq);
      this.#delivered([event], sentUnder);
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
      this.#failed([event], result, sentUnder);
      return false;
    }
    return true;
  }

  /** The Worker failed on this one event (500): it backs off alone, and is set aside after MAX_EVENT_ATTEMPTS. */
  #failedAlone(event: SpooledEvent, result: Retry): void {
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
    const delay = this.#backoff(event.attempts, this.#options.retryMaxMs, result.retryAfterMs);
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

  #delivered(events: SpooledEvent[], sentUnder: number): void {
    this.#lastOkAt = Date.now();
    // An answer to a request sent before the pause began does not show the Worker is back.
    if (!this.#pause || sentUnder === this.#pauses) {
      this.#lastError = null;
      this.#resume('a delivery');
    }
    for (const event of events) {
      if (event.attempts > 0)
        log.info('spooled event delivered', { seq: event.seq, kind: event.kind, call_id: event.call_id, attempts: event.attempts + 1 });
    }
  }

  /**
   * The Worker is not taking events: pause the whole queue. The events are left as they are (not
   * counted as attempted, no retry time of their own), so nothing but the pause holds them back.
   */
  #failed(events: SpooledEvent[], result: Retry, sentUnder: number): void {
    this.#lastError = result.reason;
    const now = Date.now();
    const pause = this.#pause;
    const [first] = events as [SpooledEvent];
    const context = {
      seq: first.seq,
      kind: first.kind,
      call_id: first.call_id,
      ...(events.length > 1 ? { batch_events: events.length } : {}),
      reason: result.reason,
    };
    const ceiling = Math.min(this.#options.retryMaxMs, this.#options.probeIntervalMs);
    if (sentUnder !== this.#pauses) {
      // Sent before this pause began: it tells nothing new, but a Retry-After is still honoured.
      if (pause && result.retryAfterMs !== undefined)
        pause.until = Math.max(pause.until, now + this.#backoff(0, ceiling, result.retryAfterMs));
      return;
    }
    if (!pause) {
      const delay = this.#backoff(0, ceiling, result.retryAfterMs);
      this.#pauses++;
      this.#pause = { since: now, until: now + delay, probes: 0, loggedAt: now, reason: result.reason };
      log.warn('the Worker is not taking events; pausing deliveries', { ...context, retry_in_ms: delay });
      return;
    }
    pause.probes++;
    const delay = this.#backoff(pause.probes, ceiling, result.retryAfterMs);
    pause.until = now + delay;
    if (result.reason !== pause.reason || now - pause.loggedAt >= PAUSED_LOG_EVERY_MS) {
      pause.loggedAt = now;
      pause.reason = result.reason;
      log.warn('the Worker is still not taking events; deliveries stay paused', {
        ...context,
        paused_ms: now - pause.since,
        probes: pause.probes,
        retry_in_ms: delay,
      });
    }
  }

  /** The Worker takes events again: everything waiting goes now, at full concurrency and in batches. */
  #resume(by: string): void {
    const pause = this.#pause;
    if (!pause) return;
    this.#pause = undefined;
    log.info('the Worker takes events again; resuming deliveries', { by, paused_ms: Date.now() - pause.since, probes: pause.probes });
    this.#wake?.();
    this.#options.onResumed?.();
  }

  /** Exponential from retryBaseMs up to `ceiling`, jittered over its upper half; Retry-After as the Worker asks. */
  #backoff(failures: number, ceiling: number, retryAfterMs: number | undefined): number {
    const limit = Math.min(ceiling, this.#options.retryBaseMs * 2 ** Math.min(failures, 30));
    const jittered = Math.round(limit / 2 + Math.random() * (limit / 2));
    return retryAfterMs === undefined ? jittered : Math.min(Math.max(retryAfterMs, jittered), this.#options.retryMaxMs * 5);
  }

  #untilNextAttempt(now: number): number {
    const next = this.#spool.nextAttemptAt();
    const idle = this.#options.idlePollMs;
    return next === null ? idle : Math.min(idle, Math.max(10, next - now));
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
