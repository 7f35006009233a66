// The calls this bridge routed itself: every /inbound it answered with status=success, kept in
// memory so that a media hand-off is opened only for a call the bridge knows, and only with the
// route it answered (tenant, phone number, AI profile), which the signed media request carries to
// the Worker. Bounded in size and age: a hand-off follows its /inbound within seconds. A call
// routed from the table hands its media over at once: the Worker's session does not need the
// call's row, which may still be in the spool.
import type { MediaRoute } from '../contract/media.ts';

/** The routing answer of one call; `call_id` is the PBX's id of the call (Asterisk ${UNIQUEID}). */
export type CallRoute = MediaRoute;

export const ROUTED_CALLS_MAX = 10_000;
export const ROUTED_CALL_TTL_MS = 2 * 60 * 60 * 1000;

interface Entry {
  route: CallRoute;
  expiresAt: number;
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

  /** `now`: when it was routed. Only the route's own fields are kept (an AnsweredCall has more). */
  remember(route: CallRoute, now = Date.now()): void {
    const { call_record_id, tenant_id, phone_number_id, ai_profile_id, call_id } = route;
    this.#routes.delete(call_record_id);
    this.#routes.set(call_record_id, {
      route: { call_record_id, tenant_id, phone_number_id, ai_profile_id, call_id },
      expiresAt: now + this.#ttlMs,
    });
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
