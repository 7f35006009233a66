// Answers /inbound from the routing table, as SIP routers answer from theirs, instead of asking
// the Worker while the caller waits. The same reading of the DID and the same precedence as the
// Worker (unknown_did, then a call already answered, then inactive_did, then tenant_inactive);
// on success the bridge creates the call record id itself and, before Asterisk hears of it,
// makes the answer and the call's record for the Worker durable, with the other calls of the same
// moment in one commit (group commit). The Deliverer sends the record behind it
// (/internal/telephony/inbound/batch). A table older than BRIDGE_ROUTES_MAX_AGE_S, or none,
// is not trusted: `route` answers null and the caller goes the synchronous way (server.ts).
import { randomUUID } from 'node:crypto';
import type { InboundCallAnswer, InboundCallPayload, InboundErrorCode, RoutedInboundCall } from '../contract/ingest.ts';
import type { AnsweredCall, AnsweredCalls } from './answered-calls.ts';
import type { GroupCommit } from './group-commit.ts';
import type { RoutedCalls } from './routed-calls.ts';
import type { RoutingTable } from './routing-table.ts';
import type { SpoolQueue } from './spool.ts';

export type RouterAnswer =
  | { status: 'success'; call: AnsweredCall; replay: boolean }
  | { status: 'error'; code: InboundErrorCode; tenant_id?: string };

interface Parts {
  /** The bridge's commits (group-commit.ts): an answer is durable together with the other writes of its moment. */
  writes: GroupCommit;
  table: RoutingTable;
  answered: AnsweredCalls;
  spool: SpoolQueue;
  routes: RoutedCalls;
  /** Past this age (ms) the table is not trusted; 0: never. */
  maxAgeMs: number;
  /** A routed call's record is in the spool. */
  onSpooled: () => void;
}

export class Router {
  readonly #parts: Parts;
  /** Answers on their way to disk: a repeat of the same call in the meantime waits for the same commit. */
  readonly #committing = new Map<string, { call: AnsweredCall; durable: Promise<void> }>();

  constructor(parts: Parts) {
    this.#parts = parts;
  }

  /** The table can be trusted: synced at least once, and not longer ago than the limit. */
  usable(now = Date.now()): boolean {
    const state = this.#parts.table.state();
    return state !== undefined && this.#parts.maxAgeMs > 0 && now - state.synced_at <= this.#parts.maxAgeMs;
  }

  /** The answer from the table, durable when it is a success; null when the table cannot be trusted. */
  async route(call: InboundCallPayload): Promise<RouterAnswer | null> {
    if (!this.usable()) return null;
    const resolved = this.#parts.table.resolve(call.called_number);
    if (resolved.outcome === 'unknown_did') return { status: 'error', code: 'unknown_did' };
    const { route, did } = resolved;

    // The Worker answers a call it recorded before with that record, whatever the number's state now.
    const key = `${route.tenant_id} ${call.call_id}`;
    const committing = this.#committing.get(key);
    if (committing) {
      await committing.durable;
      return { status: 'success', call: committing.call, replay: true };
    }
    const prior = this.#parts.answered.find(route.tenant_id, call.call_id);
    if (prior) return { status: 'success', call: prior, replay: true };

    if (!route.number_active) return { status: 'error', code: 'inactive_did', tenant_id: route.tenant_id };
    if (!route.tenant_active) return { status: 'error', code: 'tenant_inactive', tenant_id: route.tenant_id };

    const answered: AnsweredCall = {
      call_id: call.call_id,
      tenant_id: route.tenant_id,
      did,
      call_record_id: randomUUID(),
      phone_number_id: route.phone_number_id,
      ai_profile_id: route.ai_profile?.id ?? null,
      ai_profile_role: route.ai_profile?.role ?? null,
      answered_at: Date.now(),
    };
    const record: RoutedInboundCall = {
      ...call,
      call_record_id: answered.call_record_id,
      tenant_id: answered.tenant_id,
      phone_number_id: answered.phone_number_id,
      ai_profile_id: answered.ai_profile_id,
    };
    const payload = JSON.stringify(record);
    const webhookId = `msg_${randomUUID()}`;
    // The answer and the call's record for the Worker, in one commit: both or neither.
    const durable = this.#parts.writes.add(() => {
      this.#parts.answered.remember(answered);
      this.#parts.spool.enqueue('inbound-routed', answered.call_id, payload, webhookId);
    });
    this.#committing.set(key, { call: answered, durable });
    try {
      await durable;
    } finally {
      this.#committing.delete(key);
    }
    this.#parts.routes.remember(answered, answered.answered_at);
    this.#parts.onSpooled();
    return { status: 'success', call: answered, replay: false };
  }

  /**
   * A call this bridge answered before, by its call id and dialled number: asked before the
   * synchronous path, so a call first routed from the table keeps its id when it is asked
   * again after the table aged out.
   */
  priorAnswer(call: InboundCallPayload): AnsweredCall | undefined {
    const did = this.#parts.table.normalize(call.called_number);
    return did ? this.#parts.answered.findByCall(call.call_id, did) : undefined;
  }

  /** A success the Worker answered on the synchronous path, remembered like the table's (in the same commits). */
  rememberWorkerAnswer(
    call: InboundCallPayload,
    answer: Extract<InboundCallAnswer, { status: 'success' }>,
    onError: (error: unknown) => void,
  ): AnsweredCall {
    const answered: AnsweredCall = {
      call_id: call.call_id,
      tenant_id: answer.tenant_id,
      did: this.#parts.table.normalize(call.called_number) ?? call.called_number,
      call_record_id: answer.call_record_id,
      phone_number_id: answer.phone_number_id,
      ai_profile_id: answer.ai_profile?.id ?? null,
      ai_profile_role: answer.ai_profile?.role ?? null,
      answered_at: Date.now(),
    };
    this.#parts.writes.add(() => this.#parts.answered.remember(answered)).catch(onError);
    return answered;
  }
}
