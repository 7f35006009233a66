// The migrations as production runs them: by a database owner that is not a superuser (Neon's
// `neondb_owner` has CREATEROLE and owns the database, nothing more).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../tools/free-port.ts';
import { type LocalPostgres, startLocalPostgres } from '../tools/local-postgres.ts';
import { migrateDatabase } from '../tools/migrate.ts';

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
        'vca_list_tenants',
        'vca_record_call_progress',
        'vca_record_calls_ended',
        'vca_record_inbound_call',
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
      // Migrating again is a no-op.
      await migrateDatabase(ownerUrl);
    } finally {
      await owner.end();
    }
  });
});
