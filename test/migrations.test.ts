// The migrations as production runs them: by a database owner that is not a superuser (Neon's
// `neondb_owner` has CREATEROLE and owns the database, nothing more).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../tools/free-port.ts';
import { type LocalPostgres, startLocalPostgres } from '../tools/local-postgres.ts';
import { MIGRATIONS, migrateDatabase } from '../tools/migrate.ts';

describe('migrations run by a non-superuser owner, as on Neon', () => {
  let cluster: LocalPostgres;
  let ownerUrl: string;

  beforeAll(async () => {
    // A cluster of its own: roles are cluster-wide, and these must be created by that owner.
    cluster = await startLocalPostgres({
      dataDir: join(mkdtempSync(join(tmpdir(), 'vca-neonlike-')), 'pg'),
      port: await freePort(),
      database: 'postgres',
      ephemeral: true,
    });
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query(`create role neondb_owner login createrole password 'owner-password'`);
    await admin.query('create database neondb owner neondb_owner');
    await admin.end();
    const url = new URL(cluster.url);
    url.username = 'neondb_owner';
    url.password = 'owner-password';
    url.pathname = '/neondb';
    ownerUrl = url.toString();
  });
  afterAll(() => cluster?.stop());

  it('apply, create the roles, and leave the application role under row-level security', async () => {
    await migrateDatabase(ownerUrl);
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      const roles = await owner.query(
        `select rolname, rolcanlogin, rolbypassrls from pg_roles where rolname in ('vca_app', 'vca_definer') order by rolname`,
      );
      expect(roles.rows).toEqual([
        { rolname: 'vca_app', rolcanlogin: false, rolbypassrls: false },
        { rolname: 'vca_definer', rolcanlogin: false, rolbypassrls: false },
      ]);
      const functions = await owner.query(
        `select proname, pg_get_userbyid(proowner) as owner from pg_proc where proname like 'vca\\_%' order by proname`,
      );
      expect(functions.rows.map((row) => row.owner)).toEqual(functions.rows.map(() => 'vca_definer'));
      // The single-event call-end function of 0002 is gone (0004): the rules live in one function.
      // The inbound one was replaced (0008) by the form that takes the carrier: one of it, not two.
      expect(functions.rows.map((row) => row.proname)).toEqual([
        'vca_find_api_key',
        'vca_list_routes',
        'vca_list_tenants',
        'vca_record_call_progress',
        'vca_record_calls_ended',
        'vca_record_inbound_call',
        'vca_record_routed_calls',
        'vca_stamp_routes',
        'vca_touch_api_key',
      ]);
      const create = await owner.query(
        `select has_schema_privilege('vca_definer', 'public', 'CREATE') as definer, has_schema_privilege('vca_app', 'public', 'CREATE') as app`,
      );
      expect(create.rows[0]).toEqual({ definer: false, app: false });
      // The call session's writes (0006) are granted by that owner too, and no more than them.
      const grants = await owner.query(`select
        has_column_privilege('vca_app', 'calls', 'session_ended_at', 'UPDATE') as session,
        has_column_privilege('vca_app', 'calls', 'hangup_cause', 'UPDATE') as ingest,
        has_table_privilege('vca_app', 'calls', 'INSERT') as insert_calls,
        has_table_privilege('vca_app', 'call_transcripts', 'INSERT, UPDATE') as transcripts,
        (select relforcerowsecurity from pg_class where relname = 'call_transcripts') as forced`);
      expect(grants.rows[0]).toEqual({ session: true, ingest: false, insert_calls: false, transcripts: true, forced: true });
      // The routing version (0009) is the database's own: the application role can neither read
      // nor write it, nor stamp it by hand; only the definer's functions can.
      const routing = await owner.query(`select
        has_table_privilege('vca_app', 'route_versions', 'SELECT') as read,
        has_table_privilege('vca_app', 'route_versions', 'INSERT, UPDATE') as write,
        has_function_privilege('vca_app', 'vca_stamp_routes()', 'EXECUTE') as stamp,
        has_function_privilege('vca_app', 'vca_list_routes(bigint, integer)', 'EXECUTE') as list,
        (select relforcerowsecurity from pg_class where relname = 'route_versions') as forced`);
      expect(routing.rows[0]).toEqual({ read: false, write: false, stamp: false, list: true, forced: true });
      // Migrating again is a no-op.
      await migrateDatabase(ownerUrl);
    } finally {
      await owner.end();
    }
  });

  it('give the numbers that exist when the routing version arrives their first versions', async () => {
    // A database of its own at the migration before the routing version, with numbers in it.
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('create database neondb_before owner neondb_owner');
    await admin.end();
    const url = new URL(ownerUrl);
    url.pathname = '/neondb_before';
    const folder = mkdtempSync(join(tmpdir(), 'vca-migrations-'));
    cpSync(MIGRATIONS, folder, { recursive: true });
    const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8'));
    const at = journal.entries.findIndex((entry: { tag: string }) => entry.tag.endsWith('_routing_version'));
    expect(at).toBeGreaterThan(0);
    for (const entry of journal.entries.slice(at)) rmSync(join(folder, `${entry.tag}.sql`));
    journal.entries = journal.entries.slice(0, at);
    writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(journal));
    await migrateDatabase(url.toString(), folder);

    const owner = new pg.Client({ connectionString: url.toString() });
    await owner.connect();
    try {
      // Under forced row-level security even the owner writes only with a tenant set.
      const tenant = '00000000-0000-4000-8000-000000000001';
      await owner.query('begin');
      await owner.query(`select set_config('app.tenant_id', $1, true)`, [tenant]);
      await owner.query(`insert into tenants (id, name) values ($1, 'Before')`, [tenant]);
      await owner.query(`insert into phone_numbers (tenant_id, did_number) values ($1, '+919812345678'), ($1, '+919812345679')`, [tenant]);
      await owner.query('commit');

      await migrateDatabase(url.toString());
      const { rows } = await owner.query(`select version, did_number from vca_list_routes(0, 10)`);
      expect(rows.map((row) => row.version)).toEqual(['1', '2']);
      expect(rows.map((row) => row.did_number).sort()).toEqual(['+919812345678', '+919812345679']);
    } finally {
      await owner.end();
    }
  });
});
