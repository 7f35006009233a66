// The delivery loop alone (bridge/delivery.ts): a real spool in a temp dir, a scripted Worker in
// place of the Forwarder, and virtual time, so a minute-long outage takes milliseconds and a
// scheduling bug fails at once. The end-to-end tests beside it run the same rules for real.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openBridgeDatabase } from '../../bridge/database.ts';
import { Deliverer, type DeliveryOptions, type EventForwarder, MAX_EVENT_ATTEMPTS, PROBE_INTERVAL_MS } from '../../bridge/delivery.ts';
import type { ForwardResult } from '../../bridge/forwarder.ts';
import { log } from '../../bridge/log.ts';
import { type EventKind, SpoolQueue } from '../../bridge/spool.ts';
import { CALL_ENDED_BATCH_MAX as BATCH_MAX, type InboundBatchAnswer } from '../../contract/ingest.ts';

type Answer = ForwardResult | { outcome: 'unsupported' };

const ANSWERED: Answer = { outcome: 'answered', body: {} };
const DOWN: Answer = { outcome: 'retry', scope: 'worker', reason: 'cannot reach the Worker (ECONNREFUSED)' };
const FAILS_ON_IT: Answer = { outcome: 'retry', scope: 'event', reason: 'the Worker answered 500 internal_error', status: 500 };
const REFUSES: Answer = { outcome: 'reject', reason: 'the Worker answered 400 validation_failed' };

/** The bridge's settings in production. */
const PRODUCTION: DeliveryOptions = { timeoutMs: 10_000, retryBaseMs: 500, retryMaxMs: 60_000, concurrency: 16 };

interface SentEvent {
  kind: EventKind;
  call_id: string;
  /** Which event: the label given when it was spooled. */
  n: number;
}

interface Request {
  batch: boolean;
  events: SentEvent[];
  /** Virtual time it was sent. */
  at: number;
  /** Requests in flight when it was sent, itself included. */
  concurrent: number;
}

/** The Worker as the Deliverer sees it: answers as each test scripts, and records what it was sent. */
class ScriptedWorker implements EventForwarder {
  readonly requests: Request[] = [];
  /** Calls that had a second event sent while one was in flight. */
  readonly overlaps: string[] = [];
  readonly held: { request: Request; answer: (answer: Answer) => void }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  answer: (request: Request) => Answer | Promise<Answer> = () => ANSWERED;
  readonly #calls = new Set<string>();

  /** From now on every request waits until the test answers it (`held`). */
  holdAll(): void {
    this.answer = (request) => new Promise((answer) => this.held.push({ request, answer }));
  }

  async send(kind: EventKind, payload: string): Promise<ForwardResult> {
    const answer = await this.#handle(false, [{ kind, ...JSON.parse(payload) }]);
    if (answer.outcome === 'unsupported') throw new Error('a single event cannot be unsupported');
    return answer;
  }

  async sendRoutedInbound(payloads: string[]): Promise<ForwardResult<InboundBatchAnswer>> {
    const events = payloads.map((payload) => ({ kind: 'inbound-routed' as const, ...JSON.parse(payload) }));
    const answer = await this.#handle(payloads.length > 1, events);
    if (answer.outcome !== 'answered') return answer as ForwardResult<InboundBatchAnswer>;
    return {
      outcome: 'answered',
      body: { results: events.map((event) => ({ status: 'success', call_record_id: event.call_record_id, replayed: false })) },
    };
  }

  sendCallEndedBatch(payloads: string[]): Promise<Answer> {
    return this.#handle(
      true,
      payloads.map((payload) => ({ kind: 'call-ended' as const, ...JSON.parse(payload) })),
    );
  }

  /** Everything it was sent, event by event, in the order sent. */
  sentEvents(): SentEvent[] {
    return this.requests.flatMap((request) => request.events);
  }

  async #handle(batch: boolean, events: SentEvent[]): Promise<Answer> {
    for (const event of events) {
      if (this.#calls.has(event.call_id)) this.overlaps.push(event.call_id);
      this.#calls.add(event.call_id);
    }
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const request = { batch, events, at: Date.now(), concurrent: this.inFlight };
    this.requests.push(request);
    try {
      return await this.answer(request);
    } finally {
      this.inFlight--;
      for (const event of events) this.#calls.delete(event.call_id);
    }
  }
}

const includes = (request: Request, n: number) => request.events.some((event) => event.n === n);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Lets virtual time pass (timers fire, promises settle in between). */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

let spool: SpoolQueue;
let database: DatabaseSync;
let spoolDir: string;
let worker: ScriptedWorker;
let deliverers: Deliverer[];
let labels: number;

/** A Deliverer over the spool and the scripted Worker, with the production settings unless told. */
function deliverer(options: Partial<DeliveryOptions> = {}): Deliverer {
  const created = new Deliverer(spool, worker, { ...PRODUCTION, ...options });
  deliverers.push(created);
  return created;
}

/** Spools an event as the server does, and wakes the Deliverer; returns its label. */
function spoolEvent(kind: EventKind, callId: string, wake?: Deliverer): number {
  const n = ++labels;
  spool.enqueue(kind, callId, JSON.stringify({ call_id: callId, n }), `msg_${n}`);
  wake?.notify();
  return n;
}

function pending() {
  return spool
    .oldest(100_000)
    .map((event) => ({ n: JSON.parse(event.payload).n as number, attempts: event.attempts, next_attempt_at: event.next_attempt_at }));
}

function deadLetters(): { n: number; reason: string; attempts: number }[] {
  const db = new DatabaseSync(join(spoolDir, 'spool.sqlite'), { readOnly: true });
  const rows = db.prepare('select payload, reason, attempts from dead_letters order by seq').all() as {
    payload: string;
    reason: string;
    attempts: number;
  }[];
  db.close();
  return rows.map((row) => ({ n: JSON.parse(row.payload).n, reason: row.reason, attempts: row.attempts }));
}

async function stop(running: Deliverer): Promise<void> {
  for (const held of worker.held.splice(0)) held.answer(ANSWERED);
  let stopped = false;
  void running.stop().then(() => (stopped = true));
  while (!stopped) await advance(1_000);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  for (const level of ['info', 'warn', 'error'] as const) vi.spyOn(log, level).mockImplementation(() => {});
  spoolDir = mkdtempSync(join(tmpdir(), 'vca-delivery-unit-'));
  database = openBridgeDatabase(spoolDir);
  spool = new SpoolQueue(database);
  worker = new ScriptedWorker();
  deliverers = [];
  labels = 0;
});

afterEach(async () => {
  for (const running of deliverers) await stop(running);
  database.close();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('dispatch', () => {
  it("sends a call's events strictly in arrival order, never two of one call at once", async () => {
    const calls = ['a', 'b', 'c', 'd', 'e', 'f'];
    // Interleaved as real traffic is: the batcher and the concurrency are tempted at every step.
    const order = new Map<string, number[]>(calls.map((call) => [call, []]));
    for (const kind of ['inbound', 'call-ended', 'call-ended'] as const) {
      for (const call of calls) order.get(call)?.push(spoolEvent(kind, call));
    }
    // Answers come back in a shuffled order.
    worker.answer = async () => {
      await sleep(Math.floor(Math.random() * 50));
      return ANSWERED;
    };
    deliverer({ concurrency: 4 }).start();
    await advance(5_000);

    expect(pending()).toEqual([]);
    expect(worker.overlaps).toEqual([]);
    for (const call of calls) {
      const sent = worker.sentEvents().filter((event) => event.call_id === call);
      expect(sent.map((event) => event.n)).toEqual(order.get(call));
    }
  });

  it('sends different calls at the same time, up to `concurrency`', async () => {
    const inbounds = Array.from({ length: 10 }, (_, i) => spoolEvent('inbound', `call.${i}`));
    worker.holdAll();
    deliverer({ concurrency: 4 }).start();
    await advance(0);
    expect(worker.requests).toHaveLength(4);

    // Each answer frees a slot for the next call, never more.
    worker.held.shift()?.answer(ANSWERED);
    await advance(0);
    expect(worker.requests).toHaveLength(5);
    expect(worker.inFlight).toBe(4);

    while (worker.requests.length < 10 || worker.held.length > 0) {
      for (const held of worker.held.splice(0)) held.answer(ANSWERED);
      await advance(0);
    }
    expect(worker.maxInFlight).toBe(4);
    expect(worker.sentEvents().map((event) => event.n)).toEqual(inbounds);
    expect(pending()).toEqual([]);
  });
});

describe('batching', () => {
  it(`sends call-ended events that are ready together as batches of up to ${BATCH_MAX}`, async () => {
    const ends = Array.from({ length: 250 }, (_, i) => spoolEvent('call-ended', `call.${i}`));
    deliverer().start();
    await advance(0);

    expect(worker.requests.map((request) => [request.batch, request.events.length])).toEqual([
      [true, 100],
      [true, 100],
      [true, 50],
    ]);
    expect(worker.sentEvents().map((event) => event.n)).toEqual(ends);
    expect(pending()).toEqual([]);
  });

  it('never batches inbound events, and a batch takes one slot of the window', async () => {
    const first = spoolEvent('inbound', 'i.1');
    const ends = [1, 2, 3, 4, 5].map((i) => spoolEvent('call-ended', `e.${i}`));
    const later = [spoolEvent('inbound', 'i.2'), spoolEvent('inbound', 'i.3')];
    worker.holdAll();
    deliverer({ concurrency: 2 }).start();
    await advance(0);

    // Two slots: the first inbound alone, and all five ends in one batch; the other inbounds wait.
    expect(worker.requests.map((request) => [request.batch, request.events.map((event) => event.n)])).toEqual([
      [false, [first]],
      [true, ends],
    ]);
    while (worker.held.length > 0) {
      for (const held of worker.held.splice(0)) held.answer(ANSWERED);
      await advance(0);
    }
    expect(worker.requests.slice(2).map((request) => [request.batch, request.events.map((event) => event.n)])).toEqual([
      [false, [later[0]]],
      [false, [later[1]]],
    ]);
    expect(pending()).toEqual([]);
  });

  it('sends routed calls behind a batch that was not full together, a full batch at once, without reading the spool for each call', async () => {
    worker.holdAll();
    const running = deliverer();
    running.start();
    const routed = (i: number) => {
      const n = spoolEvent('inbound-routed', `r.${i}`);
      running.notify('inbound-routed');
      return n;
    };
    const first = [1, 2, 3].map(routed);
    await advance(0);
    expect(worker.requests.map((request) => request.events.map((event) => event.n))).toEqual([first]);

    // While those three are out, calls arrive one by one, each in a commit of its own.
    const reads = vi.spyOn(spool, 'oldest');
    const next: number[] = [];
    for (let i = 0; i < 150; i++) {
      next.push(routed(4 + i));
      await advance(0);
    }
    expect(worker.requests.slice(1).map((request) => request.events.map((event) => event.n))).toEqual([next.slice(0, 100)]);
    expect(reads.mock.calls.length).toBeLessThanOrEqual(2);

    while (worker.held.length > 0) {
      for (const held of worker.held.splice(0)) held.answer(ANSWERED);
      await advance(0);
    }
    expect(worker.requests.slice(2).map((request) => request.events.map((event) => event.n))).toEqual([next.slice(100)]);
    expect(pending()).toEqual([]);
  });

  it('falls back to single events for a Worker without the batch endpoint, and asks again later', async () => {
    const recheck = 60_000;
    worker.answer = (request) => (request.batch ? { outcome: 'unsupported' } : ANSWERED);
    const running = deliverer({ batchRecheckMs: recheck });
    const firstEnds = [1, 2, 3].map((i) => spoolEvent('call-ended', `a.${i}`));
    running.start();
    await advance(0);
    expect(worker.requests.map((request) => [request.batch, request.events.map((event) => event.n)])).toEqual([
      [true, firstEnds],
      ...firstEnds.map((n) => [false, [n]]),
    ]);

    // Until the recheck, ends ready together go one by one without asking.
    worker.requests.length = 0;
    for (const i of [1, 2, 3]) spoolEvent('call-ended', `b.${i}`);
    running.notify();
    await advance(1_000);
    expect(worker.requests.map((request) => request.batch)).toEqual([false, false, false]);

    worker.requests.length = 0;
    worker.answer = () => ANSWERED;
    await advance(recheck);
    const afterRecheck = [1, 2, 3].map((i) => spoolEvent('call-ended', `c.${i}`));
    running.notify();
    await advance(0);
    expect(worker.requests.map((request) => [request.batch, request.events.map((event) => event.n)])).toEqual([[true, afterRecheck]]);
    expect(pending()).toEqual([]);
  });
});

describe('while the Worker is not taking events', () => {
  it('pauses everything and probes with one event at a time, leaving the events untouched', async () => {
    const outage = 120_000;
    for (let i = 0; i < 40; i++) spoolEvent(i % 4 === 3 ? 'inbound' : 'call-ended', `call.${i}`);
    // Each attempt takes a second to fail, as a slow network would.
    worker.answer = async () => {
      await sleep(1_000);
      return DOWN;
    };
    deliverer().start();
    await advance(outage);

    const [first, ...probes] = worker.requests;
    // The first round goes out as usual (in batches, in parallel); it all fails within the second.
    const firstRound = worker.requests.filter((request) => request.at === first?.at);
    expect(firstRound.length).toBeGreaterThan(1);
    const rest = probes.slice(firstRound.length - 1);
    expect(rest.length).toBeGreaterThan(0);
    for (const probe of rest) expect(probe).toMatchObject({ batch: false, concurrent: 1 });
    // Not hammered: the shared pause grows from retryBaseMs and is capped at PROBE_INTERVAL_MS.
    const gaps = rest.slice(1).map((probe, i) => probe.at - (rest[i] as Request).at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1_000 + PRODUCTION.retryBaseMs / 2);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1_000 + PROBE_INTERVAL_MS);
    expect(gaps.slice(-10).every((gap) => gap >= 1_000 + PROBE_INTERVAL_MS / 2)).toBe(true);

    // A probe that fails is not an attempt of its event: nothing is counted or rescheduled.
    expect(pending()).toHaveLength(40);
    expect(pending().every((event) => event.attempts === 0 && event.next_attempt_at === 0)).toBe(true);
    expect(deadLetters()).toEqual([]);
    // Logged when the pause starts, then about once a minute, not once per probe.
    const warnings = vi.mocked(log.warn).mock.calls.map(([msg]) => msg);
    expect(warnings.filter((msg) => msg.includes('pausing deliveries'))).toHaveLength(1);
    expect(warnings.filter((msg) => msg.includes('still not taking events')).length).toBeLessThanOrEqual(outage / 60_000);
  });

  it('waits as long as Retry-After asks', async () => {
    const ends = [1, 2, 3].map((i) => spoolEvent('call-ended', `call.${i}`));
    worker.answer = () => {
      worker.answer = () => ANSWERED;
      return { outcome: 'retry', scope: 'worker', reason: 'the Worker answered 429 rate_limited', status: 429, retryAfterMs: 30_000 };
    };
    deliverer().start();
    await advance(29_900);
    expect(worker.requests).toHaveLength(1);
    expect(pending()).toHaveLength(3);

    await advance(200);
    expect(worker.requests.map((request) => request.events.map((event) => event.n))).toEqual([ends, [ends[0]], ends.slice(1)]);
    expect(pending()).toEqual([]);
  });

  it('neither lengthens nor ends the pause on answers to requests sent before it began', async () => {
    for (let i = 0; i < 6; i++) spoolEvent('inbound', `call.${i}`);
    worker.holdAll();
    deliverer({ concurrency: 4 }).start();
    await advance(0);
    const [down, straggler, ...others] = worker.held.splice(0);
    down?.answer(DOWN);
    await advance(0);
    // Answered, but sent before the Worker failed: no proof it is back, the pause holds.
    straggler?.answer(ANSWERED);
    for (const other of others) other.answer(DOWN);
    await advance(0);
    expect(worker.requests).toHaveLength(4);
    expect(pending()).toHaveLength(5);

    // Four failures, but one pause: the probe comes after the first step of the backoff.
    await advance(PRODUCTION.retryBaseMs);
    expect(worker.requests).toHaveLength(5);
    expect(worker.requests[4]).toMatchObject({ batch: false, concurrent: 1 });
    worker.held.shift()?.answer(ANSWERED);
    await advance(0);
    // The probe went through: the rest at once, side by side.
    expect(worker.requests.slice(5).map((request) => request.concurrent)).toEqual([1, 2, 3, 4]);
  });
});

describe('when the Worker is back', () => {
  it('delivers everything within the probe interval, at full concurrency and in batches', async () => {
    worker.answer = () => DOWN;
    const running = deliverer();
    running.start();
    // Ten minutes down, the backoff long at its ceiling; calls keep ending, some deferred
    // (their start spooled right before their end).
    for (let i = 0; i < 200; i++) {
      if (i % 20 === 0) spoolEvent('inbound', `call.${i}`, running);
      spoolEvent('call-ended', `call.${i}`, running);
      await advance(3_000);
    }
    expect(pending()).toHaveLength(210);
    const probes = worker.requests.length;

    worker.answer = async () => {
      await sleep(20);
      return ANSWERED;
    };
    await advance(PROBE_INTERVAL_MS);
    expect(pending()).toEqual([]);
    const recovery = worker.requests.slice(probes);
    expect(recovery.filter((request) => request.batch).length).toBeGreaterThan(0);
    expect(recovery.length).toBeLessThan(30);
    expect(Math.max(...recovery.map((request) => request.concurrent))).toBeGreaterThan(1);
    expect(worker.overlaps).toEqual([]);
  });

  it('announces its resumption once, when the Worker is back (the routing table syncs on it)', async () => {
    worker.answer = () => DOWN;
    let resumed = 0;
    const running = deliverer({ onResumed: () => resumed++ });
    for (let i = 0; i < 5; i++) spoolEvent('call-ended', `call.${i}`);
    running.start();
    await advance(60_000);
    expect(resumed).toBe(0);

    worker.answer = () => ANSWERED;
    await advance(PROBE_INTERVAL_MS);
    expect(pending()).toEqual([]);
    expect(resumed).toBe(1);
    spoolEvent('call-ended', 'call.later', running);
    await advance(1_000);
    expect(resumed).toBe(1);
  });

  it('resumes at once when a live call gets through', async () => {
    worker.answer = () => DOWN;
    const running = deliverer();
    for (let i = 0; i < 30; i++) spoolEvent('call-ended', `call.${i}`);
    running.start();
    await advance(60_000);
    const probes = worker.requests.length;

    worker.answer = () => ANSWERED;
    running.workerAnswered();
    await advance(0);
    expect(pending()).toEqual([]);
    expect(worker.requests.slice(probes).map((request) => request.events.length)).toEqual([30]);
  });

  it('after a restart, delivers at once: retry times from before the restart do not hold anything back', async () => {
    worker.answer = () => DOWN;
    const before = deliverer();
    before.start();
    for (let i = 0; i < 150; i++) {
      spoolEvent('call-ended', `call.${i}`, before);
      await advance(2_000);
    }
    // Some rows as a bridge before this one left them: a Worker outage kept in each event's own
    // retry time, up to a minute away.
    for (const event of spool.oldest(50))
      spool.retryAt(event.seq, Date.now() + PRODUCTION.retryMaxMs, 'cannot reach the Worker (ECONNREFUSED)');
    await stop(before);
    deliverers.splice(deliverers.indexOf(before), 1);

    worker.answer = () => ANSWERED;
    worker.requests.length = 0;
    deliverer().start();
    await advance(0);
    expect(pending()).toEqual([]);
    expect(worker.requests.map((request) => request.events.length)).toEqual([100, 50]);
  });
});

describe('an event the Worker fails on (500)', () => {
  it(`is retried alone, set aside after ${MAX_EVENT_ATTEMPTS} attempts, and the other events flow on`, async () => {
    const poison = spoolEvent('call-ended', 'p');
    const fine = [1, 2, 3].map((i) => spoolEvent('call-ended', `a.${i}`));
    const poisonLater = spoolEvent('call-ended', 'p');
    // The Worker fails on the batch as a whole, and on the event alone.
    worker.answer = (request) => (includes(request, poison) ? FAILS_ON_IT : ANSWERED);
    const running = deliverer();
    running.start();
    await advance(10_000);
    const meanwhile = [1, 2, 3].map((i) => spoolEvent('call-ended', `b.${i}`, running));
    await advance(0);
    expect(pending().map((event) => event.n)).toEqual([poison, poisonLater]);
    await advance(5 * 60_000);

    const withPoison = worker.requests.filter((request) => includes(request, poison));
    expect(withPoison.map((request) => request.events.length)).toEqual([4, ...Array(MAX_EVENT_ATTEMPTS).fill(1)]);
    expect(deadLetters()).toEqual([
      { n: poison, reason: `${FAILS_ON_IT.reason} (${MAX_EVENT_ATTEMPTS} attempts)`, attempts: MAX_EVENT_ATTEMPTS },
    ]);
    // Its call's next event waited behind it; the other calls did not.
    const sent = worker.sentEvents().map((event) => event.n);
    expect(sent.lastIndexOf(poison)).toBeLessThan(sent.indexOf(poisonLater));
    for (const n of meanwhile) expect(sent.indexOf(n)).toBeLessThan(sent.lastIndexOf(poison));
    expect(pending()).toEqual([]);
    expect(new Set(sent)).toEqual(new Set([poison, ...fine, poisonLater, ...meanwhile]));
  });
});

describe('events the Worker refuses for good', () => {
  it('go to the dead letters at once (400), alone: the rest of their batch and their call go on', async () => {
    const before = spoolEvent('call-ended', 'a');
    const refused = spoolEvent('call-ended', 'x');
    const after = spoolEvent('call-ended', 'b');
    const sameCall = spoolEvent('call-ended', 'x');
    worker.answer = (request) => (includes(request, refused) ? REFUSES : ANSWERED);
    deliverer().start();
    await advance(1_000);

    expect(worker.requests.map((request) => [request.batch, request.events.map((event) => event.n)])).toEqual([
      [true, [before, refused, after]],
      [false, [before]],
      [false, [refused]],
      [false, [after]],
      [false, [sameCall]],
    ]);
    expect(deadLetters()).toEqual([{ n: refused, reason: REFUSES.reason, attempts: 1 }]);
    expect(pending()).toEqual([]);
  });

  it('a batch too large as a whole (413) is delivered one by one, nothing set aside', async () => {
    const ends = [1, 2, 3].map((i) => spoolEvent('call-ended', `call.${i}`));
    worker.answer = (request) => (request.batch ? { outcome: 'reject', reason: 'the Worker answered 413 too_large' } : ANSWERED);
    deliverer().start();
    await advance(1_000);

    expect(worker.requests.map((request) => [request.batch, request.events.map((event) => event.n)])).toEqual([
      [true, ends],
      ...ends.map((n) => [false, [n]]),
    ]);
    expect(deadLetters()).toEqual([]);
    expect(pending()).toEqual([]);
  });
});
