// The bridge's copy of the routes of every generic number (DESIGN.md, "Routing at the PBX"), in
// its SQLite file so it survives restarts: normalised DID → phone number, tenant, whether number
// and tenant are active, the default AI profile. route-sync.ts keeps it current from the Worker;
// /inbound reads it. The DID is read exactly as the Worker reads it: contract/phone.ts with the
// Worker's own DEFAULT_COUNTRY, which every routes page carries. /inbound reads a copy in memory
// (a Map by DID, loaded from the file at start, changed only after a sync's commit): a query and
// a row turned into an object on every call were about a tenth of the bridge's CPU per call.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { RemovedRoute, Route } from '../contract/ingest.ts';
import { normalizeDid } from '../contract/phone.ts';
import { transaction } from './database.ts';

export interface RoutingState {
  /** The routing version the table is at: every change up to it is in. */
  version: number;
  /** The Worker's DEFAULT_COUNTRY. */
  default_country: string;
  /** Unix ms of the last sync that reached the Worker's version. */
  synced_at: number;
}

export type Resolution = { outcome: 'unknown_did' } | { outcome: 'found'; did: string; route: Route };

/** Called numbers whose E.164 form is remembered (a map cleared when full: simple, and bounded). */
const NORMALIZED_MAX = 50_000;

type RouteRow = {
  phone_number_id: string;
  did: string;
  tenant_id: string;
  number_active: number;
  tenant_active: number;
  ai_profile_id: string | null;
  ai_profile_name: string | null;
  ai_profile_role: string | null;
  version: number;
};

export class RoutingTable {
  readonly #db: DatabaseSync;
  readonly #upsert: StatementSync;
  readonly #remove: StatementSync;
  readonly #freeDid: StatementSync;
  readonly #state: StatementSync;
  readonly #writeState: StatementSync;
  #cached: RoutingState | undefined;
  /** The table's rows by DID, and each number's DID: what the file holds, as of its last commit. */
  readonly #byDid = new Map<string, Route>();
  readonly #didOf = new Map<string, string>();
  readonly #normalized = new Map<string, string | null>();

  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(`
      create table if not exists routes (
        phone_number_id text primary key,
        did text not null unique,
        tenant_id text not null,
        number_active integer not null,
        tenant_active integer not null,
        ai_profile_id text,
        ai_profile_name text,
        ai_profile_role text,
        version integer not null
      );
      create table if not exists routing_state (
        id integer primary key check (id = 1),
        version integer not null,
        default_country text not null,
        synced_at integer not null
      );
    `);
    this.#upsert = db.prepare(`
      insert into routes (phone_number_id, did, tenant_id, number_active, tenant_active, ai_profile_id, ai_profile_name, ai_profile_role, version)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?)
      on conflict (phone_number_id) do update set did = excluded.did, tenant_id = excluded.tenant_id,
        number_active = excluded.number_active, tenant_active = excluded.tenant_active, ai_profile_id = excluded.ai_profile_id,
        ai_profile_name = excluded.ai_profile_name, ai_profile_role = excluded.ai_profile_role, version = excluded.version
    `);
    this.#remove = db.prepare('delete from routes where phone_number_id = ?');
    // A DID is one number's at a time; a copy that still gives it to another one is out of date.
    this.#freeDid = db.prepare('delete from routes where did = ? and phone_number_id <> ?');
    this.#state = db.prepare('select version, default_country, synced_at from routing_state where id = 1');
    this.#writeState = db.prepare(`
      insert into routing_state (id, version, default_country, synced_at) values (1, ?, ?, ?)
      on conflict (id) do update set version = excluded.version, default_country = excluded.default_country, synced_at = excluded.synced_at
    `);
    this.#cached = this.#state.get() as RoutingState | undefined;
    for (const row of db.prepare('select * from routes').all() as RouteRow[]) this.#hold(toRoute(row));
  }

  /** Undefined: the table was never synced. */
  state(): RoutingState | undefined {
    return this.#cached;
  }

  get count(): number {
    return this.#byDid.size;
  }

  /**
   * A sync's result, in one commit: `changes` in version order (a full sync replaces the whole
   * table with them), then the version and time the table is at.
   */
  apply(sync: { full: boolean; changes: (Route | RemovedRoute)[]; state: RoutingState }): void {
    transaction(this.#db, () => {
      if (sync.full) this.#db.exec('delete from routes');
      for (const change of sync.changes) {
        if (change.removed) {
          this.#remove.run(change.phone_number_id);
          continue;
        }
        this.#freeDid.run(change.did, change.phone_number_id);
        const profile = change.ai_profile;
        this.#upsert.run(
          change.phone_number_id,
          change.did,
          change.tenant_id,
          change.number_active ? 1 : 0,
          change.tenant_active ? 1 : 0,
          profile?.id ?? null,
          profile?.name ?? null,
          profile?.role ?? null,
          change.version,
        );
      }
      const { version, default_country, synced_at } = sync.state;
      this.#writeState.run(version, default_country, synced_at);
    });
    this.#cached = { ...sync.state };
    // Committed: the copy in memory follows, with the same steps.
    if (sync.full) {
      this.#byDid.clear();
      this.#didOf.clear();
    }
    for (const change of sync.changes) {
      if (change.removed) this.#drop(change.phone_number_id);
      else this.#hold(change);
    }
  }

  /** The dialled number as the Worker reads it, and its route if the table has one. */
  resolve(calledNumber: string): Resolution {
    const did = this.normalize(calledNumber);
    if (!did) return { outcome: 'unknown_did' };
    const route = this.#byDid.get(did);
    return route ? { outcome: 'found', did, route } : { outcome: 'unknown_did' };
  }

  /** The dialled number in E.164 with the Worker's DEFAULT_COUNTRY; null when unknown or not a number. */
  normalize(calledNumber: string): string | null {
    const country = this.#cached?.default_country;
    if (!country) return null;
    // Validating a number against the numbering plan is the dearest step of an answer, and a PBX
    // sees the same few thousand DIDs again and again: remembered, per country, up to a bound.
    const key = `${country} ${calledNumber}`;
    const known = this.#normalized.get(key);
    if (known !== undefined) return known;
    const did = normalizeDid(calledNumber, country);
    if (this.#normalized.size >= NORMALIZED_MAX) this.#normalized.clear();
    this.#normalized.set(key, did);
    return did;
  }

  /** As the upsert: the number's route replaces its old one, and takes its DID from any other number. */
  #hold(change: Route): void {
    this.#drop(change.phone_number_id);
    const holder = this.#byDid.get(change.did);
    if (holder) this.#didOf.delete(holder.phone_number_id);
    const { removed, phone_number_id, version, did, tenant_id, number_active, tenant_active, ai_profile } = change;
    const profile = ai_profile && { id: ai_profile.id, name: ai_profile.name, role: ai_profile.role };
    this.#byDid.set(did, { removed, phone_number_id, version, did, tenant_id, number_active, tenant_active, ai_profile: profile });
    this.#didOf.set(phone_number_id, did);
  }

  #drop(phoneNumberId: string): void {
    const did = this.#didOf.get(phoneNumberId);
    if (did === undefined) return;
    this.#didOf.delete(phoneNumberId);
    this.#byDid.delete(did);
  }
}

function toRoute(row: RouteRow): Route {
  return {
    removed: false,
    phone_number_id: row.phone_number_id,
    version: row.version,
    did: row.did,
    tenant_id: row.tenant_id,
    number_active: row.number_active === 1,
    tenant_active: row.tenant_active === 1,
    ai_profile:
      row.ai_profile_id !== null && row.ai_profile_name !== null && row.ai_profile_role !== null
        ? { id: row.ai_profile_id, name: row.ai_profile_name, role: row.ai_profile_role }
        : null,
  };
}
