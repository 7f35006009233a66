// The durable queue of events for the Worker, in the bridge's SQLite file (database.ts): an
// enqueue that returned survives kill -9 and power loss. One table of pending events in arrival
// order; delivered rows are deleted, undeliverable ones move to dead_letters.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { transaction } from './database.ts';

/**
 * `inbound`: a call the Worker is to route and record (the synchronous path, deferred).
 * `inbound-routed`: a call the bridge routed from its table, to be recorded with its id.
 * `call-ended`: a call's end.
 */
export type EventKind = 'inbound' | 'inbound-routed' | 'call-ended';
const KINDS = "('inbound', 'inbound-routed', 'call-ended')";

export interface SpooledEvent {
  seq: number;
  kind: EventKind;
  call_id: string;
  /** The JSON body to send, exactly. */
  payload: string;
  /** Stable across retries: the same message, as Standard Webhooks intends. */
  webhook_id: string;
  received_at: number;
  attempts: number;
  next_attempt_at: number;
}

export interface SpoolStats {
  depth: number;
  oldest_received_at: number | null;
  dead_letters: number;
}

export class SpoolQueue {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #head: StatementSync;
  readonly #oldest: StatementSync;
  readonly #nextAttempt: StatementSync;
  readonly #delete: StatementSync;
  readonly #retry: StatementSync;
  readonly #bury: StatementSync;
  readonly #expedite: StatementSync;
  readonly #stats: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#allowRoutedInbound();
    this.#db.exec(`
      create table if not exists pending (
        seq integer primary key autoincrement,
        kind text not null check (kind in ${KINDS}),
        call_id text not null,
        payload text not null,
        webhook_id text not null,
        received_at integer not null,
        attempts integer not null default 0,
        next_attempt_at integer not null default 0,
        last_error text
      );
      create table if not exists dead_letters (
        seq integer primary key,
        kind text not null,
        call_id text not null,
        payload text not null,
        webhook_id text not null,
        received_at integer not null,
        attempts integer not null,
        failed_at integer not null,
        reason text not null
      );
    `);
    this.#insert = this.#db.prepare(
      'insert into pending (kind, call_id, payload, webhook_id, received_at) values (?, ?, ?, ?, ?) returning seq',
    );
    this.#head = this.#db.prepare(
      'select seq, kind, call_id, payload, webhook_id, received_at, attempts, next_attempt_at from pending order by seq limit 1',
    );
    this.#oldest = this.#db.prepare(
      'select seq, kind, call_id, payload, webhook_id, received_at, attempts, next_attempt_at from pending order by seq limit ?',
    );
    this.#nextAttempt = this.#db.prepare('select min(next_attempt_at) as at from pending');
    this.#delete = this.#db.prepare('delete from pending where seq = ?');
    this.#retry = this.#db.prepare('update pending set attempts = attempts + 1, next_attempt_at = ?, last_error = ? where seq = ?');
    this.#bury = this.#db.prepare(`
      insert into dead_letters (seq, kind, call_id, payload, webhook_id, received_at, attempts, failed_at, reason)
      select seq, kind, call_id, payload, webhook_id, received_at, attempts + 1, ?, ? from pending where seq = ?
    `);
    this.#expedite = this.#db.prepare('update pending set next_attempt_at = 0 where next_attempt_at > 0');
    this.#stats = this.#db.prepare(
      'select (select count(*) from pending) as depth, (select min(received_at) from pending) as oldest, (select count(*) from dead_letters) as dead',
    );
  }

  /** Durable when it returns (the commit is fsynced). Events are delivered in the order enqueued. */
  enqueue(kind: EventKind, callId: string, payload: string, webhookId: string): number {
    const row = this.#insert.get(kind, callId, payload, webhookId, Date.now()) as { seq: number };
    return row.seq;
  }

  /** Several events that must be kept together (all or none). */
  enqueueAll(events: { kind: EventKind; callId: string; payload: string; webhookId: string }[]): void {
    this.#transaction(() => {
      for (const event of events) this.enqueue(event.kind, event.callId, event.payload, event.webhookId);
    });
  }

  head(): SpooledEvent | undefined {
    return this.#head.get() as SpooledEvent | undefined;
  }

  /** The oldest pending events, in arrival order. */
  oldest(limit: number): SpooledEvent[] {
    return this.#oldest.all(limit) as unknown as SpooledEvent[];
  }

  /** When the soonest pending event may be tried, or null when nothing is pending. */
  nextAttemptAt(): number | null {
    return (this.#nextAttempt.get() as { at: number | null }).at;
  }

  delivered(seq: number): void {
    this.deliveredAll([seq]);
  }

  /**
   * Several delivered events in one commit. Without an fsync of its own: a delete lost to a power
   * cut only means the events are delivered again, which the Worker's idempotency absorbs, and
   * the next durable commit (an enqueue, a second later at most) carries it to disk anyway.
   * This keeps the fsyncs of a busy bridge to those of the calls' own writes.
   */
  deliveredAll(seqs: number[]): void {
    this.#db.exec('pragma synchronous = normal');
    try {
      this.#transaction(() => {
        for (const seq of seqs) this.#delete.run(seq);
      });
    } finally {
      this.#db.exec('pragma synchronous = full');
    }
  }

  retryAt(seq: number, when: number, error: string): void {
    this.#retry.run(when, error, seq);
  }

  /** Everything waiting for a retry may go now. */
  expedite(): void {
    this.#expedite.run();
  }

  deadLetter(seq: number, reason: string): void {
    this.#transaction(() => {
      this.#bury.run(Date.now(), reason, seq);
      this.#delete.run(seq);
    });
  }

  stats(): SpoolStats {
    const row = this.#stats.get() as { depth: number; oldest: number | null; dead: number };
    return { depth: row.depth, oldest_received_at: row.oldest, dead_letters: row.dead };
  }

  /** Give freed pages back to the file system and fold the WAL into the database; cheap when idle. */
  compact(): void {
    this.#db.exec('pragma incremental_vacuum; pragma wal_checkpoint(truncate);');
  }

  #transaction(work: () => void) {
    transaction(this.#db, work);
  }

  /**
   * A spool written by a bridge before routing at the PBX allows only two kinds of event in its
   * CHECK, which SQLite cannot alter: the table is rebuilt with its rows, keeping the sequence
   * (dead letters keep their seq, which a reused one would collide with).
   */
  #allowRoutedInbound(): void {
    const table = this.#db.prepare(`select sql from sqlite_master where type = 'table' and name = 'pending'`).get() as
      | { sql: string }
      | undefined;
    if (!table || table.sql.includes("'inbound-routed'")) return;
    this.#transaction(() => {
      this.#db.exec(`
        alter table pending rename to pending_before_routing;
        create table pending (
          seq integer primary key autoincrement,
          kind text not null check (kind in ${KINDS}),
          call_id text not null,
          payload text not null,
          webhook_id text not null,
          received_at integer not null,
          attempts integer not null default 0,
          next_attempt_at integer not null default 0,
          last_error text
        );
        insert into pending (seq, kind, call_id, payload, webhook_id, received_at, attempts, next_attempt_at, last_error)
          select seq, kind, call_id, payload, webhook_id, received_at, attempts, next_attempt_at, last_error from pending_before_routing;
        delete from sqlite_sequence where name = 'pending';
        insert into sqlite_sequence (name, seq) select 'pending', max(
          coalesce((select seq from sqlite_sequence where name = 'pending_before_routing'), 0),
          coalesce((select max(seq) from pending), 0),
          coalesce((select max(seq) from dead_letters), 0));
        drop table pending_before_routing;
      `);
    });
  }
}
