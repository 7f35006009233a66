// The calls this bridge routed itself: every /inbound it answered with status=success, kept in
// memory so that a media hand-off is opened only for a call the bridge knows, and only with the
// tenant it was routed to. Bounded in size and age: a hand-off follows its /inbound within seconds.

export interface CallRoute {
  call_record_id: string;
  tenant_id: string;
  /** The PBX's id of the call (Asterisk ${UNIQUEID}), as /inbound received it. */
  call_id: string;
}

export const ROUTED_CALLS_MAX = 10_000;
export const ROUTED_CALL_TTL_MS = 2 * 60 * 60 * 1000;

export class RoutedCalls {
  /** In the order they were (last) routed, so the oldest are first to expire or be evicted. */
  readonly #routes = new Map<string, { route: CallRoute; expiresAt: number }>();
  readonly #max: number;
  readonly #ttlMs: number;

  constructor(max = ROUTED_CALLS_MAX, ttlMs = ROUTED_CALL_TTL_MS) {
    this.#max = max;
    this.#ttlMs = ttlMs;
  }

  remember(route: CallRoute, now = Date.now()): void {
    this.#routes.delete(route.call_record_id);
    this.#routes.set(route.call_record_id, { route: { ...route }, expiresAt: now + this.#ttlMs });
    for (const [id, entry] of this.#routes) {
      if (this.#routes.size <= this.#max && entry.expiresAt > now) break;
      this.#routes.delete(id);
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

  get size(): number {
    return this.#routes.size;
  }
}
