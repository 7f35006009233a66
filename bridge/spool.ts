// The durable queue of events for the Worker, in SQLite (node:sqlite): WAL with synchronous=FULL,
// so an enqueue that returned survives kill -9 and power loss. One table of pending events in
// arrival order; delivered rows are deleted, undeliverable ones move to dead_letters.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export type EventKind = 'inbound' | 'call-ended';

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

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(join(dir, 'spool.sqlite'));
    this.#db.exec(`
      pragma auto_vacuum = incremental;
      pragma journal_mode = wal;
      pragma synchronous = full;
      pragma busy_timeout = 5000;
      create table if not exists pending (
        seq integer primary key autoincrement,
        kind text not null check (kind in ('inbound', 'call-ended')),
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
    this.#delete.run(seq);
  }

  /** Several delivered events in one commit (one fsync, not one each). */
  deliveredAll(seqs: number[]): void {
    this.#transaction(() => {
      for (const seq of seqs) this.#delete.run(seq);
    });
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

  close(): void {
    this.#db.close();
  }

  #transaction(work: () => void) {
    this.#db.exec('begin immediate');
    try {
      work();
      this.#db.exec('commit');
    } catch (error) {
      this.#db.exec('rollback');
      throw error;
    }
  }
}
