// The bridge's routing table alone (bridge/routing-table.ts): /inbound reads its copy in memory,
// which must answer exactly as the SQLite file it survives restarts in, whatever the syncs did.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openBridgeDatabase } from '../../bridge/database.ts';
import { RoutingTable } from '../../bridge/routing-table.ts';
import type { RemovedRoute, Route } from '../../contract/ingest.ts';

const DIDS = ['+919810000001', '+919810000002', '+919810000003', '+919810000004'];
const NATIONAL = '09810000002';

function route(phoneNumberId: string, did: string, version: number, overrides: Partial<Route> = {}): Route {
  return {
    removed: false,
    phone_number_id: phoneNumberId,
    version,
    did,
    tenant_id: 'a2b7f3c4-0000-4000-8000-000000000001',
    number_active: true,
    tenant_active: true,
    ai_profile: { id: 'b3c8e4d5-0000-4000-8000-000000000001', name: 'Desk', role: 'receptionist' },
    ...overrides,
  };
}

describe('RoutingTable', () => {
  it('answers from memory what its file answers after a restart, through upserts, a DID moving, removals and a full resync', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vca-routing-table-unit-'));
    const db = openBridgeDatabase(dir);
    const table = new RoutingTable(db);
    const numbers = DIDS.map(() => randomUUID());
    let version = 0;
    const sync = (changes: (Route | RemovedRoute)[], full = false) =>
      table.apply({ full, changes, state: { version: ++version, default_country: 'IN', synced_at: Date.now() } });
    const answers = (of: RoutingTable) =>
      [...DIDS, NATIONAL, 'not a number'].map((called) => {
        const resolved = of.resolve(called);
        return resolved.outcome === 'found' ? [called, resolved.did, resolved.route] : [called, resolved.outcome];
      });
    const afterRestart = () => answers(new RoutingTable(db));

    sync(
      DIDS.map((did, i) => route(numbers[i] as string, did, i + 1)),
      true,
    );
    expect(table.count).toBe(4);
    expect(table.resolve(NATIONAL)).toMatchObject({ outcome: 'found', did: DIDS[1], route: { phone_number_id: numbers[1] } });
    expect(answers(table)).toEqual(afterRestart());

    // Deactivated, suspended, without a profile; then the first number's DID taken by a new number.
    const moved = randomUUID();
    sync([
      route(numbers[1] as string, DIDS[1] as string, 10, { number_active: false }),
      route(numbers[2] as string, DIDS[2] as string, 11, { tenant_active: false, ai_profile: null }),
      route(moved, DIDS[0] as string, 12),
    ]);
    expect(table.resolve(DIDS[0] as string)).toMatchObject({ outcome: 'found', route: { phone_number_id: moved } });
    expect(table.count).toBe(4);
    expect(answers(table)).toEqual(afterRestart());

    // The number that lost its DID gets another one; a number removed; one changing its DID.
    sync([
      route(numbers[0] as string, '+919810000005', 13),
      { removed: true, phone_number_id: numbers[3] as string, version: 14 },
      route(numbers[2] as string, '+919810000006', 15),
    ]);
    expect(table.resolve(DIDS[3] as string)).toEqual({ outcome: 'unknown_did' });
    expect(table.resolve(DIDS[2] as string)).toEqual({ outcome: 'unknown_did' });
    expect(table.count).toBe(4);
    expect(answers(table)).toEqual(afterRestart());

    // A full resync replaces everything.
    sync([route(numbers[1] as string, DIDS[1] as string, 20)], true);
    expect(table.count).toBe(1);
    expect(table.resolve(DIDS[0] as string)).toEqual({ outcome: 'unknown_did' });
    expect(answers(table)).toEqual(afterRestart());
    expect(new RoutingTable(db).count).toBe(1);
    db.close();
  });
});
