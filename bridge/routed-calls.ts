// The calls this bridge routed itself: every /inbound it answered with status=success, kept in
// memory so that a media hand-off is opened only for a call the bridge knows, and only with the
// tenant it was routed to. Bounded in size and age: a hand-off follows its /inbound within seconds.
// A call routed from the routing table is answered before the Worker has its record; its media
// waits (whenRecorded) until the spooled record is delivered, since the Worker's session loads
// the call's row.

export interface CallRoute {
  call_record_id: string;
  tenant_id: string;
  /** The PBX's id of the call (Asterisk ${UNIQUEID}), as /inbound received it. */
  call_id: string;
}

export const ROUTED_CALLS_MAX = 10_000;
export const ROUTED_CALL_TTL_MS = 2 * 60 * 60 * 1000;

interface Entry {
  route: CallRoute;
  expiresAt: number;
  recorded: boolean;
  waiters: (() => void)[];
}

export class RoutedCalls {
  /** In the order they were (last) routed, so the oldest are first to expire or be evicted. */
  readonly #routes = new Map<string, Entry>();
  readonly #max: number;
  readonly #ttlMs: number;

  constructor(max = ROUTED_CALLS_MAX, ttlMs = ROUTED_CALL_TTL_MS) {
    this.#max = max;
    this.#ttlMs = ttlMs;
  }

  /**
   * `now`: when it was routed. `recorded: false`: the Worker has no record of the call yet (the
   * bridge routed it from its table and the record is in the spool).
   */
  remember(route: CallRoute, now = Date.now(), options: { recorded?: boolean } = {}): void {
    const previous = this.#routes.get(route.call_record_id);
    this.#routes.delete(route.call_record_id);
    this.#routes.set(route.call_record_id, {
      route: { ...route },
      expiresAt: now + this.#ttlMs,
      recorded: (options.recorded ?? true) || previous?.recorded === true,
      waiters: previous?.waiters ?? [],
    });
    for (const [id, entry] of this.#routes) {
      if (this.#routes.size <= this.#max && entry.expiresAt > now) break;
      this.#routes.delete(id);
      for (const waiter of entry.waiters) waiter();
    }
  }

  find(callRecordId: string, now = Date.now()): CallRoute | undefined {
    const entry = this.#routes.get(callRecordId);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.#routes.delete(callRecordId);
      return undefined;
    }
    return entry.route;
  }

  /** The Worker has the call's record now. */
  recorded(callRecordId: string): void {
    const entry = this.#routes.get(callRecordId);
    if (!entry) return;
    entry.recorded = true;
    for (const waiter of entry.waiters.splice(0)) waiter();
  }

  /** Resolves true once the Worker has the call's record, false when `timeoutMs` passes first. */
  whenRecorded(callRecordId: string, timeoutMs: number): Promise<boolean> {
    const entry = this.#routes.get(callRecordId);
    if (!entry || entry.recorded) return Promise.resolve(entry !== undefined);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const index = entry.waiters.indexOf(done);
        if (index >= 0) entry.waiters.splice(index, 1);
        resolve(entry.recorded);
      };
      const timer = setTimeout(done, timeoutMs);
      entry.waiters.push(done);
    });
  }

  get size(): number {
    return this.#routes.size;
  }
}
