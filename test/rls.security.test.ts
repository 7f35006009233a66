// Row-level security: isolation holds in the database itself, even for a query that forgets its
// tenant filter. Connected exactly as the Worker is: the application role, no BYPASSRLS.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { aiProfiles, calls, callTranscripts, phoneNumbers, tenants } from '../worker/db/schema.ts';
import { createAiProfile, createPhoneNumber, createTenant, insertCall, sql } from './support/api.ts';
import { openAppDatabase } from './support/app-database.ts';

const TABLES = ['tenants', 'phone_numbers', 'ai_profiles', 'calls', 'call_transcripts', 'api_keys', 'audit_events'] as const;

describe('row-level security for the application role', () => {
  let app: pg.Client;
  const a = { tenant: { id: '' }, number: { id: '', did_number: '' }, profile: { id: '' }, call: '' };
  const b = { tenant: { id: '' }, number: { id: '', did_number: '' }, profile: { id: '' }, call: '' };

  beforeAll(async () => {
    for (const side of [a, b]) {
      side.tenant = await createTenant();
      side.number = await createPhoneNumber(side.tenant.id);
      side.profile = await createAiProfile(side.tenant.id);
      side.call = await insertCall(side.tenant.id, side.number);
      await sql(`insert into call_transcripts (call_id, tenant_id, turns, summary) values ($1, $2, $3, 'A summary.')`, [
        side.call,
        side.tenant.id,
        JSON.stringify([{ role: 'caller', text: 'Hello?', offset_ms: 0 }]),
      ]);
    }
    app = new pg.Client({ connectionString: inject('appDatabaseUrl') });
    await app.connect();
  });
  afterAll(() => app?.end());

  async function asTenant<T>(tenantId: string | null, work: () => Promise<T>): Promise<T> {
    await app.query('begin');
    try {
      if (tenantId) await app.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
      return await work();
    } finally {
      await app.query('rollback');
    }
  }

  it('is a role that owns no table and cannot bypass row-level security', async () => {
    const { rows } = await app.query(
      `select current_user as me, r.rolbypassrls, r.rolsuper from pg_roles r where r.rolname = current_user`,
    );
    expect(rows[0]).toEqual({ me: 'vca_app', rolbypassrls: false, rolsuper: false });
    const owned = await app.query(`select tablename from pg_tables where schemaname = 'public' and tableowner = current_user`);
    expect(owned.rows).toEqual([]);
    const forced = await sql(`select relname, relrowsecurity, relforcerowsecurity from pg_class where relname = any($1) order by relname`, [
      [...TABLES],
    ]);
    expect(forced.rows).toHaveLength(TABLES.length);
    for (const table of forced.rows) expect(table).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
  });

  it.each(TABLES)('reads zero rows of %s without a tenant setting', async (table) => {
    const { rows } = await asTenant(null, () => app.query(`select count(*)::int as n from ${table}`));
    expect(rows[0].n).toBe(0);
  });

  it('refuses writes without a tenant setting', async () => {
    await expect(
      asTenant(null, () => app.query(`insert into phone_numbers (tenant_id, did_number) values ($1, '+919800000001')`, [a.tenant.id])),
    ).rejects.toThrow(/row-level security/);
    const updated = await asTenant(null, () => app.query(`update phone_numbers set is_active = false`));
    expect(updated.rowCount).toBe(0);
    const { rows } = await sql('select is_active from phone_numbers where id = $1', [a.number.id]);
    expect(rows[0].is_active).toBe(true);
  });

  it("with tenant A's setting, sees only A's rows and cannot touch B's", async () => {
    await asTenant(a.tenant.id, async () => {
      const numbers = await app.query('select id, tenant_id from phone_numbers');
      expect(numbers.rows.map((row) => row.tenant_id)).toEqual(numbers.rows.map(() => a.tenant.id));
      expect(numbers.rows.map((row) => row.id)).toContain(a.number.id);
      for (const [table, id] of [
        ['tenants', b.tenant.id],
        ['phone_numbers', b.number.id],
        ['ai_profiles', b.profile.id],
        ['calls', b.call],
        ['call_transcripts', b.call],
      ] as const) {
        const { rowCount } = await app.query(`select 1 from ${table} where ${table === 'call_transcripts' ? 'call_id' : 'id'} = $1`, [id]);
        expect(rowCount, `${table} row of tenant B`).toBe(0);
      }
      const renamed = await app.query(`update ai_profiles set name = 'stolen' where id = $1`, [b.profile.id]);
      expect(renamed.rowCount).toBe(0);
    });
    await expect(
      asTenant(a.tenant.id, () =>
        app.query(`insert into ai_profiles (tenant_id, name, role, system_prompt) values ($1, 'x', 'sales', 'x')`, [b.tenant.id]),
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(
      asTenant(a.tenant.id, () => app.query(`update phone_numbers set tenant_id = $1 where id = $2`, [b.tenant.id, a.number.id])),
    ).rejects.toThrow(/row-level security/);
    const { rows } = await sql('select name from ai_profiles where id = $1', [b.profile.id]);
    expect(rows[0].name).not.toBe('stolen');
  });

  it('cannot write calls directly: they come only through the ingest functions', async () => {
    await expect(
      asTenant(a.tenant.id, () =>
        app.query(`insert into calls (tenant_id, phone_number_id, called_number, external_call_id) values ($1, $2, $3, 'direct')`, [
          a.tenant.id,
          a.number.id,
          a.number.did_number,
        ]),
      ),
    ).rejects.toThrow(/permission denied/);
  });

  it('writes no transcript and no call session without a tenant setting', async () => {
    await expect(
      asTenant(null, () => app.query(`insert into call_transcripts (call_id, tenant_id) values ($1, $2)`, [a.call, a.tenant.id])),
    ).rejects.toThrow(/row-level security/);
    const transcripts = await asTenant(null, () => app.query(`update call_transcripts set summary = 'overwritten'`));
    expect(transcripts.rowCount).toBe(0);
    const sessions = await asTenant(null, () => app.query(`update calls set session_started_at = now(), status = 'answered'`));
    expect(sessions.rowCount).toBe(0);
    const { rows } = await sql('select summary from call_transcripts where call_id = any($1)', [[a.call, b.call]]);
    expect(rows.map((row) => row.summary)).toEqual(['A summary.', 'A summary.']);
  });

  it("with tenant A's setting, writes A's transcript and call session but never B's", async () => {
    await asTenant(a.tenant.id, async () => {
      const own = await app.query(`update call_transcripts set summary = 'Changed.' where call_id = $1`, [a.call]);
      expect(own.rowCount).toBe(1);
      const theirs = await app.query(`update call_transcripts set summary = 'stolen'`);
      expect(theirs.rowCount).toBe(1); // A's own row only
      const session = await app.query(`update calls set session_started_at = now(), status = 'answered' where id = any($1)`, [
        [a.call, b.call],
      ]);
      expect(session.rowCount).toBe(1);
      const visible = await app.query('select call_id, tenant_id from call_transcripts');
      expect(visible.rows).toEqual([{ call_id: a.call, tenant_id: a.tenant.id }]);
    });
    // B's transcript under B's tenant id, or under A's id pointing at B's call: refused either way.
    await expect(
      asTenant(a.tenant.id, () =>
        app.query(`insert into call_transcripts (call_id, tenant_id) values (gen_random_uuid(), $1)`, [b.tenant.id]),
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(
      asTenant(a.tenant.id, () => app.query(`update call_transcripts set tenant_id = $1 where call_id = $2`, [b.tenant.id, a.call])),
    ).rejects.toThrow(/row-level security|foreign key/);
    const otherCall = await insertCall(b.tenant.id, b.number);
    await expect(
      asTenant(a.tenant.id, () => app.query(`insert into call_transcripts (call_id, tenant_id) values ($1, $2)`, [otherCall, a.tenant.id])),
    ).rejects.toThrow(/foreign key/);
    // Nothing of B's changed (A's own changes were rolled back with the transaction).
    const { rows } = await sql('select call_id, summary from call_transcripts where call_id = any($1)', [[b.call, otherCall]]);
    expect(rows).toEqual([{ call_id: b.call, summary: 'A summary.' }]);
    const session = await sql('select session_started_at, status::text from calls where id = $1', [b.call]);
    expect(session.rows).toEqual([{ session_started_at: null, status: 'initiated' }]);
  });

  it('may change only the session columns of a call, never what the ingest recorded', async () => {
    for (const assignment of [
      `hangup_cause = 16`,
      `duration_seconds = 1`,
      `ended_at = now()`,
      `caller_number = 'x'`,
      `tenant_id = '${b.tenant.id}'`,
      `ai_profile_id = null`,
    ]) {
      await expect(
        asTenant(a.tenant.id, () => app.query(`update calls set ${assignment} where id = $1`, [a.call])),
        assignment,
      ).rejects.toThrow(/permission denied/);
    }
  });

  it("returns nothing for an unscoped query through the app's own database helper", async () => {
    // The Worker's code, in Node, through the Neon driver and the local WebSocket proxy.
    const { db, close } = openAppDatabase();
    try {
      expect(await db.select().from(tenants)).toEqual([]);
      expect(await db.select().from(phoneNumbers)).toEqual([]);
      expect(await db.select().from(aiProfiles)).toEqual([]);
      expect(await db.select().from(calls)).toEqual([]);
      expect(await db.select().from(callTranscripts)).toEqual([]);
    } finally {
      await close();
    }
  });
});
