// What the bridge told Asterisk about each call it routed: the call record id, tenant and profile
// of every status=success. A repeated /inbound for the same call gets the same answer — from the
// table path or the Worker's, before or after a restart — and a restarted bridge still knows the
// calls whose audio may still arrive (media.ts). Kept two hours (as long as the media relay
// remembers a route), then pruned: at 10 calls/s that is 72,000 small rows.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { transaction } from './database.ts';

export interface AnsweredCall {
  /** The PBX's id of the call (Asterisk ${UNIQUEID}). */
  call_id: string;
  tenant_id: string;
  /** The dialled number, E.164. */
  did: string;
  call_record_id: string;
  phone_number_id: string;
  ai_profile_id: string | null;
  ai_profile_role: string | null;
  /** Unix ms. */
  answered_at: number;
}

export const ANSWERS_KEPT_MS = 2 * 60 * 60 * 1000;

export class AnsweredCalls {
  readonly #remember: StatementSync;
  readonly #find: StatementSync;
  readonly #findByCall: StatementSync;
  readonly #since: StatementSync;
  readonly #prune: StatementSync;

  constructor(db: DatabaseSync) {
    AnsweredCalls.#keyByCallFirst(db);
    // Keyed by the call first: the key serves both lookups (by tenant and call, by call and
    // number), so a call costs the commit one index page it lands on at random, not two (an
    // index of its own on call_id was a quarter of a commit's time). answered_at grows with time:
    // its index takes new rows on its last page.
    db.exec(`
      ${answeredCallsTable('if not exists answered_calls')};
      create index if not exists answered_calls_answered_at on answered_calls (answered_at);
    `);
    const columns = 'call_id, tenant_id, did, call_record_id, phone_number_id, ai_profile_id, ai_profile_role, answered_at';
    // The first answer stays: a repeat never changes what Asterisk was told.
    this.#remember = db.prepare(`insert into answered_calls (${columns}) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing`);
    this.#find = db.prepare(`select ${columns} from answered_calls where tenant_id = ? and call_id = ?`);
    this.#findByCall = db.prepare(`select ${columns} from answered_calls where call_id = ? and did = ?`);
    this.#since = db.prepare(`select ${columns} from answered_calls where answered_at >= ? order by answered_at`);
    this.#prune = db.prepare('delete from answered_calls where answered_at < ?');
  }

  remember(call: AnsweredCall): void {
    this.#remember.run(
      call.call_id,
      call.tenant_id,
      call.did,
      call.call_record_id,
      call.phone_number_id,
      call.ai_profile_id,
      call.ai_profile_role,
      call.answered_at,
    );
  }

  find(tenantId: string, callId: string): AnsweredCall | undefined {
    return this.#find.get(tenantId, callId) as AnsweredCall | undefined;
  }

  /** By the call and the number it dialled, when the tenant is not known yet. */
  findByCall(callId: string, did: string): AnsweredCall | undefined {
    return this.#findByCall.get(callId, did) as AnsweredCall | undefined;
  }

  since(at: number): AnsweredCall[] {
    return this.#since.all(at) as unknown as AnsweredCall[];
  }

  prune(now = Date.now()): void {
    this.#prune.run(now - ANSWERS_KEPT_MS);
  }

  /**
   * A file from an older bridge keys the table by tenant first, with an index on call_id beside
   * it. SQLite cannot change a key: the table is rebuilt with its rows (two hours of answers at
   * most), once.
   */
  static #keyByCallFirst(db: DatabaseSync): void {
    const table = db.prepare(`select sql from sqlite_master where type = 'table' and name = 'answered_calls'`).get() as
      | { sql: string }
      | undefined;
    if (!table || !/primary key \(tenant_id, call_id\)/i.test(table.sql)) return;
    transaction(db, () => {
      db.exec(`
        ${answeredCallsTable('answered_calls_by_call')};
        insert into answered_calls_by_call select tenant_id, call_id, did, call_record_id, phone_number_id, ai_profile_id, ai_profile_role, answered_at from answered_calls;
        drop table answered_calls;
        alter table answered_calls_by_call rename to answered_calls;
      `);
    });
  }
}

/** The table's definition, keyed by the call first; `name` may start with `if not exists`. */
function answeredCallsTable(name: string): string {
  return `create table ${name} (
    tenant_id text not null,
    call_id text not null,
    did text not null,
    call_record_id text not null,
    phone_number_id text not null,
    ai_profile_id text,
    ai_profile_role text,
    answered_at integer not null,
    primary key (call_id, tenant_id)
  )`;
}
