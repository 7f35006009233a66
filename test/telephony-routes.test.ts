// GET /internal/telephony/routes: what the bridge syncs its routing table from. The database
// stamps the routing version itself (drizzle/0009), so every change is made here through the API
// (or, for what the API cannot do, plain SQL) and must show up with a new version.
import { describe, expect, it } from 'vitest';
import type { RoutesPage } from '../contract/ingest.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, sql } from './support/api.ts';
import { REMOVED_SIGNING_SECRET } from './support/constants.ts';
import { signedGet } from './support/telephony.ts';

const ROUTES = '/internal/telephony/routes';

async function page(after: number, limit?: number): Promise<RoutesPage> {
  const response = await signedGet(`${ROUTES}?after=${after}${limit ? `&limit=${limit}` : ''}`);
  expect(response.status).toBe(200);
  return response.body as RoutesPage;
}

/** The database's routing version now. */
async function head(): Promise<number> {
  return (await page(Number.MAX_SAFE_INTEGER, 1)).version;
}

/** Every change after `after`, page by page, as the bridge reads them. */
async function changesAfter(after: number, limit = 100): Promise<RoutesPage['routes']> {
  const all: RoutesPage['routes'] = [];
  for (let cursor: number | null = after; cursor !== null; ) {
    const next = await page(cursor, limit);
    all.push(...next.routes);
    cursor = next.next_after;
  }
  return all;
}

/** The phone numbers (of `ids`) that changed after `after`, each once, with its latest state. */
async function changedNumbers(after: number, ids: string[]) {
  const latest = new Map<string, RoutesPage['routes'][number]>();
  for (const route of await changesAfter(after)) if (ids.includes(route.phone_number_id)) latest.set(route.phone_number_id, route);
  return latest;
}

async function tenantWithNumbers(count: number) {
  const tenant = await createTenant();
  const numbers = [];
  for (let i = 0; i < count; i++) numbers.push(await createPhoneNumber(tenant.id));
  return { tenant, numbers, ids: numbers.map((n) => n.id) };
}

describe('GET /internal/telephony/routes', () => {
  it('answers a number’s route: DID, tenant, states and the default profile, and nothing else', async () => {
    const before = await head();
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const profile = await createAiProfile(tenant.id, {
      name: 'Desk',
      role: 'support',
      is_default: true,
      system_prompt: 'SECRET-PROMPT never leaves the database',
    });
    const response = await signedGet(`${ROUTES}?after=${before}&limit=1000`);
    expect(response.status).toBe(200);
    expect(response.text).not.toContain('SECRET-PROMPT');
    const body = response.body as RoutesPage;
    expect(body.default_country).toBe('IN');
    expect(body.version).toBeGreaterThan(before);
    const mine = body.routes.filter((route) => route.phone_number_id === number.id);
    expect(mine.at(-1)).toEqual({
      removed: false,
      phone_number_id: number.id,
      version: expect.any(Number),
      did: number.did_number,
      tenant_id: tenant.id,
      number_active: true,
      tenant_active: true,
      ai_profile: { id: profile.id, name: 'Desk', role: 'support' },
    });
    expect(Object.keys(mine.at(-1) ?? {}).sort()).toEqual(
      ['ai_profile', 'did', 'number_active', 'phone_number_id', 'removed', 'tenant_active', 'tenant_id', 'version'].sort(),
    );
  });

  it('stamps a new version on every change that affects a route, and on nothing else', async () => {
    const { tenant, numbers, ids } = await tenantWithNumbers(3);
    const [first] = numbers as [(typeof numbers)[number]];
    const cases: [string, () => Promise<unknown>, string[]][] = [
      [
        'number deactivated',
        () => api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${first.id}`, { body: { is_active: false } }),
        [first.id],
      ],
      [
        'number activated',
        () => api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${first.id}`, { body: { is_active: true } }),
        [first.id],
      ],
      ['a default profile created', () => createAiProfile(tenant.id, { name: 'One', is_default: true }), ids],
      ['a profile that is not the default created', () => createAiProfile(tenant.id, { name: 'Two' }), []],
      ['tenant suspended', () => api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'suspended' } }), ids],
      ['tenant plan changed', () => api('PATCH', `/api/tenants/${tenant.id}`, { body: { plan: 'growth' } }), []],
      ['tenant deleted', () => api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'deleted' } }), ids],
      ['tenant active again', () => api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'active' } }), ids],
    ];
    for (const [name, change, expected] of cases) {
      const before = await head();
      await change();
      const changed = await changedNumbers(before, ids);
      expect([...changed.keys()].sort(), name).toEqual([...expected].sort());
      for (const route of changed.values()) expect(route.version, name).toBeGreaterThan(before);
    }

    const profiles = (await api('GET', `/api/tenants/${tenant.id}/ai-profiles`)).body.data as { id: string; name: string }[];
    const one = profiles.find((p) => p.name === 'One') as { id: string };
    const two = profiles.find((p) => p.name === 'Two') as { id: string };
    const profileCases: [string, () => Promise<unknown>, string[], unknown][] = [
      [
        'default renamed',
        () => api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${one.id}`, { body: { name: 'Uno' } }),
        ids,
        { id: one.id, name: 'Uno', role: 'receptionist' },
      ],
      [
        'default re-roled',
        () => api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${one.id}`, { body: { role: 'sales' } }),
        ids,
        { id: one.id, name: 'Uno', role: 'sales' },
      ],
      [
        'default’s prompt changed',
        () => api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${one.id}`, { body: { system_prompt: 'New prompt.' } }),
        [],
        undefined,
      ],
      [
        'another profile renamed',
        () => api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${two.id}`, { body: { name: 'Dos' } }),
        [],
        undefined,
      ],
      [
        'default switched',
        () => api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${two.id}`, { body: { is_default: true } }),
        ids,
        { id: two.id, name: 'Dos', role: 'receptionist' },
      ],
      ['default unset', () => api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${two.id}`, { body: { is_default: false } }), ids, null],
    ];
    for (const [name, change, expected, profile] of profileCases) {
      const before = await head();
      expect(((await change()) as { status: number }).status, name).toBe(200);
      const changed = await changedNumbers(before, ids);
      expect([...changed.keys()].sort(), name).toEqual([...expected].sort());
      for (const route of changed.values()) expect(route.removed === false && route.ai_profile, name).toEqual(profile);
    }

    // A number attached: its route appears.
    const before = await head();
    const attached = await createPhoneNumber(tenant.id, { is_active: false });
    const changed = await changedNumbers(before, [attached.id]);
    expect(changed.get(attached.id)).toMatchObject({ removed: false, did: attached.did_number, number_active: false, tenant_active: true });
  });

  it('answers a number that was deleted behind the API’s back as removed', async () => {
    const { tenant, numbers } = await tenantWithNumbers(1);
    const [number] = numbers as [(typeof numbers)[number]];
    const before = await head();
    await sql('delete from phone_numbers where id = $1', [number.id]);
    const changed = await changedNumbers(before, [number.id]);
    expect(changed.get(number.id)).toEqual({ removed: true, phone_number_id: number.id, version: expect.any(Number) });
    expect(tenant.id).toBeTruthy();
  });

  it('pages in version order: next_after while more wait, null on the last page', async () => {
    const before = await head();
    const { ids } = await tenantWithNumbers(5);
    const seen: string[] = [];
    let cursor: number | null = before;
    let pages = 0;
    let lastVersion = before;
    while (cursor !== null) {
      const next = await page(cursor, 2);
      pages++;
      expect(next.routes.length).toBeLessThanOrEqual(2);
      for (const route of next.routes) {
        expect(route.version).toBeGreaterThan(lastVersion);
        lastVersion = route.version;
        seen.push(route.phone_number_id);
      }
      if (next.next_after !== null) expect(next.next_after).toBe(next.routes.at(-1)?.version);
      cursor = next.next_after;
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    for (const id of ids) expect(seen).toContain(id);
    // Caught up: an empty page that still says where the database is.
    const caughtUp = await page(lastVersion);
    expect(caughtUp).toMatchObject({ routes: [], next_after: null });
    expect(caughtUp.version).toBeGreaterThanOrEqual(lastVersion);
  });

  it('never lets a reader miss a change, whatever the order concurrent changes commit in', async () => {
    const tenants = await Promise.all([tenantWithNumbers(4), tenantWithNumbers(4), tenantWithNumbers(4)]);
    const ids = tenants.flatMap((t) => t.ids);
    const state = new Map<string, RoutesPage['routes'][number]>();
    let cursor = await head();
    let writing = true;
    // The bridge's way: small pages, as fast as it can, while the writes go on.
    const reader = (async () => {
      while (writing || cursor < (await head())) {
        const next = await page(cursor, 3);
        for (const route of next.routes) state.set(route.phone_number_id, route);
        cursor = next.routes.at(-1)?.version ?? cursor;
      }
    })();
    const writes = [];
    for (let round = 0; round < 6; round++) {
      for (const { tenant, numbers } of tenants) {
        for (const number of numbers) {
          writes.push(api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${number.id}`, { body: { is_active: Math.random() < 0.5 } }));
        }
        writes.push(api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: Math.random() < 0.5 ? 'active' : 'suspended' } }));
      }
    }
    await Promise.all(writes);
    writing = false;
    await reader;
    const { rows } = await sql(
      `select p.id, p.is_active, t.status = 'active' as tenant_active from phone_numbers p join tenants t on t.id = p.tenant_id where p.id = any($1)`,
      [ids],
    );
    expect(rows).toHaveLength(ids.length);
    for (const row of rows) {
      expect(state.get(row.id), row.id).toMatchObject({ number_active: row.is_active, tenant_active: row.tenant_active });
    }
  }, 60_000);

  it('is refused without a valid signature, 401 alike', async () => {
    const unsigned = await api('GET', `${ROUTES}?after=0`, { token: null });
    expectProblem(unsigned, 401, 'invalid_signature');
    expectProblem(await signedGet(`${ROUTES}?after=0`, { secret: REMOVED_SIGNING_SECRET }), 401, 'invalid_signature');
    expectProblem(await signedGet(`${ROUTES}?after=0`, { timestamp: Math.floor(Date.now() / 1000) - 400 }), 401, 'invalid_signature');
    // The operator's token is not a signature either.
    expectProblem(await api('GET', `${ROUTES}?after=0`), 401, 'invalid_signature');
  });

  it.each([['limit=0'], ['limit=1001'], ['after=-1'], ['after=soon'], ['limit=2.5']])('refuses %s with 400', async (query) => {
    expectProblem(await signedGet(`${ROUTES}?${query}`), 400, 'validation_failed');
  });
});
