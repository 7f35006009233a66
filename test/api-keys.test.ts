// Tenant API keys: operators issue, list and revoke them; the secret (`vca_` + 32 random bytes,
// base64url) is shown once and stored only as its SHA-256 hash with a short lookup prefix. A key
// reaches its own tenant's routes only, stops working at once when revoked or expired, is refused
// while its tenant is suspended or deleted, and records when it was last used (at most once a minute).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiResponse,
  api,
  createAiProfile,
  createPhoneNumber,
  createTenant,
  expectProblem,
  insertCall,
  randomDid,
  sql,
} from './support/api.ts';

interface CreatedKey {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  key: string;
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

async function issueKey(tenantId: string, fields: Record<string, unknown> = {}): Promise<CreatedKey> {
  const response = await api('POST', `/api/tenants/${tenantId}/api-keys`, { body: { name: 'CRM integration', ...fields } });
  if (response.status !== 201) throw new Error(`issueKey: ${response.status} ${response.text}`);
  return response.body as CreatedKey;
}

/** The api_keys row exactly as stored (timestamps as Postgres text, to the microsecond). */
async function storedKey(id: string) {
  const { rows } = await sql(
    `select id, tenant_id, name, prefix, secret_hash, created_at::text, expires_at::text, revoked_at::text, last_used_at::text
       from api_keys where id = $1`,
    [id],
  );
  return rows[0] as Record<string, string | null> | undefined;
}

async function keyCount(tenantId: string): Promise<number> {
  const { rows } = await sql('select count(*)::int as n from api_keys where tenant_id = $1', [tenantId]);
  return rows[0].n;
}

/** Polls `read` until `done` holds or the time is up; returns the last value read. */
async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

function expectUnauthorized(response: ApiResponse) {
  expectProblem(response, 401, 'unauthorized');
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
}

/** A key that is the real one with every character after the lookup prefix changed. */
function withWrongSecret(key: string, prefix: string): string {
  const tail = key
    .slice(prefix.length)
    .split('')
    .map((ch) => (ch === 'A' ? 'B' : 'A'))
    .join('');
  return prefix + tail;
}

let tenantA: { id: string };
let tenantB: { id: string };
let numberB: { id: string; did_number: string };
let profileA: { id: string };
let callA: string;
let keyA: CreatedKey;

beforeAll(async () => {
  tenantA = await createTenant();
  tenantB = await createTenant();
  const numberA = await createPhoneNumber(tenantA.id);
  numberB = await createPhoneNumber(tenantB.id);
  profileA = await createAiProfile(tenantA.id);
  callA = await insertCall(tenantA.id, numberA);
  keyA = await issueKey(tenantA.id);
});

describe('issuing a key', () => {
  it('answers 201 with a Location and the secret once: vca_ + at least 43 base64url characters', async () => {
    const response = await api('POST', `/api/tenants/${tenantA.id}/api-keys`, { body: { name: '  Billing sync  ' } });
    expect(response.status).toBe(201);
    const created = response.body as CreatedKey;
    expect(response.headers.get('location')).toBe(`/api/tenants/${tenantA.id}/api-keys/${created.id}`);
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      tenant_id: tenantA.id,
      name: 'Billing sync',
      prefix: expect.any(String),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      expires_at: null,
      revoked_at: null,
      last_used_at: null,
      key: expect.stringMatching(/^vca_[A-Za-z0-9_-]{43,}$/),
    });
    // 32 random bytes at least: 43 base64url characters, which decode to 32 bytes or more.
    expect(Buffer.from(created.key.slice(4), 'base64url').length).toBeGreaterThanOrEqual(32);
  });

  it('shows as prefix the start of the key, short enough to reveal nothing of its secret', async () => {
    const created = await issueKey(tenantA.id);
    expect(created.prefix.startsWith('vca_')).toBe(true);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.prefix.length).toBeGreaterThan('vca_'.length + 4);
    expect(created.prefix.length).toBeLessThanOrEqual(20);
  });

  it('issues a different secret and prefix every time', async () => {
    const keys = await Promise.all([1, 2, 3, 4].map(() => issueKey(tenantA.id)));
    expect(new Set(keys.map((k) => k.key)).size).toBe(4);
    expect(new Set(keys.map((k) => k.prefix)).size).toBe(4);
  });

  it('never answers with the stored hash', async () => {
    const response = await api('POST', `/api/tenants/${tenantA.id}/api-keys`, { body: { name: 'Hash check' } });
    expect(response.status).toBe(201);
    const stored = await storedKey(response.body.id);
    expect(response.text).not.toMatch(/secret_hash|secretHash/);
    expect(response.text).not.toContain(stored?.secret_hash);
  });

  it('stores only the SHA-256 hex of the key and a short lookup prefix; the key text is nowhere in the row', async () => {
    const created = await issueKey(tenantA.id, { name: 'Storage check' });
    const row = await storedKey(created.id);
    expect(row).toBeDefined();
    expect(row?.secret_hash).toBe(sha256Hex(created.key));
    const secret = created.key.slice('vca_'.length);
    const lookup = row?.prefix ?? '';
    expect(lookup.length).toBeGreaterThan(0);
    expect(lookup.length).toBeLessThanOrEqual(16);
    expect(secret.startsWith(lookup)).toBe(true);
    // Every column, as text: neither the key nor its secret part is stored.
    const { rows } = await sql('select to_jsonb(k)::text as text from api_keys k where id = $1', [created.id]);
    expect(rows[0].text).not.toContain(created.key);
    expect(rows[0].text).not.toContain(secret);
  });

  it('accepts an expiry in the future and shows it', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const created = await issueKey(tenantA.id, { expires_at: expiresAt });
    expect(created.expires_at).toBe(expiresAt);
    expect(Date.parse((await storedKey(created.id))?.expires_at as string)).toBe(Date.parse(expiresAt));
  });

  it.each([
    ['a missing name', {}, 'name'],
    ['a blank name', { name: '   ' }, 'name'],
    ['an unknown field', { name: 'CRM', scopes: ['read'] }, 'scopes'],
    ['expires_at that is not a datetime', { name: 'CRM', expires_at: 'next week' }, 'expires_at'],
    ['expires_at in the past', { name: 'CRM', expires_at: new Date(Date.now() - 60_000).toISOString() }, 'expires_at'],
  ])('rejects %s with 400 validation_failed naming the field, and stores nothing', async (_label, body, path) => {
    const before = await keyCount(tenantA.id);
    const response = await api('POST', `/api/tenants/${tenantA.id}/api-keys`, { body });
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    expect(await keyCount(tenantA.id)).toBe(before);
  });

  it('answers 404 tenant_not_found for an unknown tenant', async () => {
    expectProblem(await api('POST', `/api/tenants/${randomUUID()}/api-keys`, { body: { name: 'CRM' } }), 404, 'tenant_not_found');
  });
});

describe('reading keys', () => {
  it('lists the tenant’s keys without their secrets or hashes', async () => {
    const created = await issueKey(tenantA.id, { name: 'Listed' });
    const response = await api('GET', `/api/tenants/${tenantA.id}/api-keys?limit=100`);
    expect(response.status).toBe(200);
    const listed = response.body.data.find((k: { id: string }) => k.id === created.id);
    const { key, ...withoutSecret } = created;
    expect(listed).toEqual(withoutSecret);
    for (const item of response.body.data) {
      expect(item).not.toHaveProperty('key');
      expect(item.tenant_id).toBe(tenantA.id);
    }
    expect(response.text).not.toContain(key);
    expect(response.text).not.toContain(key.slice(4));
    expect(response.text).not.toMatch(/secret_hash|secretHash/);
    expect(response.text).not.toContain(sha256Hex(key));
  });

  it('gets one key without its secret or hash', async () => {
    const created = await issueKey(tenantA.id, { name: 'Fetched' });
    const response = await api('GET', `/api/tenants/${tenantA.id}/api-keys/${created.id}`);
    expect(response.status).toBe(200);
    const { key, ...withoutSecret } = created;
    expect(response.body).toEqual(withoutSecret);
    expect(response.text).not.toContain(key.slice(4));
    expect(response.text).not.toContain(sha256Hex(key));
  });

  it.each([
    ['GET', 'an unknown key id', () => randomUUID()],
    ['DELETE', 'an unknown key id', () => randomUUID()],
    ['GET', 'a key id that is not a UUID', () => 'not-a-uuid'],
    ['DELETE', 'a key id that is not a UUID', () => 'not-a-uuid'],
  ])('%s answers 404 api_key_not_found for %s', async (method, _label, id) => {
    expectProblem(await api(method, `/api/tenants/${tenantA.id}/api-keys/${id()}`), 404, 'api_key_not_found');
  });

  it('answers 404 for another tenant’s key id under this tenant, and does not revoke it', async () => {
    const keyOfB = await issueKey(tenantB.id);
    expectProblem(await api('GET', `/api/tenants/${tenantA.id}/api-keys/${keyOfB.id}`), 404, 'api_key_not_found');
    expectProblem(await api('DELETE', `/api/tenants/${tenantA.id}/api-keys/${keyOfB.id}`), 404, 'api_key_not_found');
    expect((await storedKey(keyOfB.id))?.revoked_at).toBeNull();
    expect((await api('GET', `/api/tenants/${tenantB.id}`, { token: keyOfB.key })).status).toBe(200);
  });
});

describe('a key on its own tenant’s routes', () => {
  it('reads its tenant', async () => {
    const response = await api('GET', `/api/tenants/${tenantA.id}`, { token: keyA.key });
    expect(response.status).toBe(200);
    expect(response.body.id).toBe(tenantA.id);
  });

  it('lists its tenant’s phone numbers', async () => {
    const response = await api('GET', `/api/tenants/${tenantA.id}/phone-numbers`, { token: keyA.key });
    expect(response.status).toBe(200);
    expect(response.body.data.length).toBeGreaterThan(0);
    for (const number of response.body.data) expect(number.tenant_id).toBe(tenantA.id);
  });

  it('cannot attach or switch phone numbers: numbers are the operator’s to provision', async () => {
    const did = randomDid();
    const created = await api('POST', `/api/tenants/${tenantA.id}/phone-numbers`, { token: keyA.key, body: { did_number: did } });
    expectProblem(created, 403, 'operator_only');
    const { rowCount } = await sql('select 1 from phone_numbers where did_number = $1', [did]);
    expect(rowCount).toBe(0);
    const listed = await api('GET', `/api/tenants/${tenantA.id}/phone-numbers`, { token: keyA.key });
    expect(listed.status).toBe(200);
    const number = listed.body.data[0];
    if (number) {
      const switched = await api('PATCH', `/api/tenants/${tenantA.id}/phone-numbers/${number.id}`, {
        token: keyA.key,
        body: { is_active: !number.is_active },
      });
      expectProblem(switched, 403, 'operator_only');
    }
  });

  it('updates an AI profile of its tenant', async () => {
    const name = `Renamed ${randomUUID().slice(0, 8)}`;
    const response = await api('PATCH', `/api/tenants/${tenantA.id}/ai-profiles/${profileA.id}`, { token: keyA.key, body: { name } });
    expect(response.status).toBe(200);
    expect(response.body.name).toBe(name);
    const { rows } = await sql('select name from ai_profiles where id = $1', [profileA.id]);
    expect(rows[0].name).toBe(name);
  });

  it('lists its tenant’s calls', async () => {
    const response = await api('GET', `/api/tenants/${tenantA.id}/calls`, { token: keyA.key });
    expect(response.status).toBe(200);
    expect(response.body.data.map((call: { id: string }) => call.id)).toContain(callA);
  });

  it('reads its tenant’s call statistics', async () => {
    const response = await api('GET', `/api/tenants/${tenantA.id}/calls/stats`, { token: keyA.key });
    expect(response.status).toBe(200);
    expect(response.body.total_calls).toBeGreaterThanOrEqual(1);
  });

  it('reads its tenant’s audit events', async () => {
    const response = await api('GET', `/api/tenants/${tenantA.id}/audit-events`, { token: keyA.key });
    expect(response.status).toBe(200);
    expect(response.body.data.length).toBeGreaterThan(0);
    for (const event of response.body.data) expect(event.tenant_id).toBe(tenantA.id);
  });
});

describe('operator-only routes refuse a tenant key with 403 operator_only, changing nothing', () => {
  const tenantName = `Key-made ${randomUUID()}`;
  const cases: [string, string, () => string, Record<string, unknown> | undefined][] = [
    ['GET', 'the tenant list', () => '/api/tenants', undefined],
    ['POST', 'creating a tenant', () => '/api/tenants', { name: tenantName }],
    ['PATCH', 'its own tenant’s status', () => `/api/tenants/${tenantA.id}`, { status: 'suspended' }],
    ['PATCH', 'its own tenant’s plan', () => `/api/tenants/${tenantA.id}`, { plan: 'custom' }],
    ['GET', 'its own tenant’s key list', () => `/api/tenants/${tenantA.id}/api-keys`, undefined],
    ['POST', 'issuing a key for its own tenant', () => `/api/tenants/${tenantA.id}/api-keys`, { name: 'Self-issued' }],
    ['GET', 'reading its own key', () => `/api/tenants/${tenantA.id}/api-keys/${keyA.id}`, undefined],
    ['DELETE', 'revoking its own key', () => `/api/tenants/${tenantA.id}/api-keys/${keyA.id}`, undefined],
  ];

  const snapshot = async () => ({
    tenant: (await sql('select to_jsonb(t) as row from tenants t where id = $1', [tenantA.id])).rows[0].row,
    keys: (await sql('select id, name, revoked_at::text, expires_at::text from api_keys where tenant_id = $1 order by id', [tenantA.id]))
      .rows,
    audit: (await sql('select count(*)::int as n from audit_events where tenant_id = $1', [tenantA.id])).rows[0].n,
    namedTenants: (await sql('select count(*)::int as n from tenants where name = $1', [tenantName])).rows[0].n,
  });

  it.each(cases)('%s: %s', async (method, _label, path, body) => {
    const before = await snapshot();
    const response = await api(method, path(), { token: keyA.key, body });
    const problem = expectProblem(response, 403, 'operator_only');
    expect(problem.detail).toMatch(/operator/i);
    expect(await snapshot()).toEqual(before);
    expect(before.namedTenants).toBe(0);
    // The key itself still works on its tenant.
    expect((await api('GET', `/api/tenants/${tenantA.id}`, { token: keyA.key })).status).toBe(200);
  });
});

describe('another tenant’s paths answer a key with 404, as if they did not exist', () => {
  it('its tenant', async () => {
    expectProblem(await api('GET', `/api/tenants/${tenantB.id}`, { token: keyA.key }), 404, 'tenant_not_found');
  });

  it('its phone number list', async () => {
    expectProblem(await api('GET', `/api/tenants/${tenantB.id}/phone-numbers`, { token: keyA.key }), 404, 'tenant_not_found');
  });

  it('a real phone number of it', async () => {
    const response = await api('GET', `/api/tenants/${tenantB.id}/phone-numbers/${numberB.id}`, { token: keyA.key });
    expectProblem(response, 404, 'tenant_not_found');
    expect(response.text).not.toContain(numberB.did_number);
  });

  it('a change to a real phone number of it, which stays unchanged', async () => {
    const before = (await sql('select to_jsonb(p) as row from phone_numbers p where id = $1', [numberB.id])).rows[0].row;
    const response = await api('PATCH', `/api/tenants/${tenantB.id}/phone-numbers/${numberB.id}`, {
      token: keyA.key,
      body: { is_active: false },
    });
    expectProblem(response, 404, 'tenant_not_found');
    expect((await sql('select to_jsonb(p) as row from phone_numbers p where id = $1', [numberB.id])).rows[0].row).toEqual(before);
  });

  it('the same answer as for a tenant that does not exist', async () => {
    const other = await api('GET', `/api/tenants/${tenantB.id}/phone-numbers`, { token: keyA.key });
    const unknown = await api('GET', `/api/tenants/${randomUUID()}/phone-numbers`, { token: keyA.key });
    expect(other.status).toBe(unknown.status);
    expect(other.body.code).toBe(unknown.body.code);
    expect(other.body.detail).toBe(unknown.body.detail);
  });
});

describe('revoking a key', () => {
  it('answers 204 and the key is refused with 401 on the very next request', async () => {
    const created = await issueKey(tenantA.id);
    expect((await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key })).status).toBe(200);
    const revoked = await api('DELETE', `/api/tenants/${tenantA.id}/api-keys/${created.id}`);
    expect(revoked.status).toBe(204);
    expect(revoked.text).toBe('');
    const refused = await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key });
    expectUnauthorized(refused);
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('is soft: the row stays with revoked_at, and GET and the list show it', async () => {
    const created = await issueKey(tenantA.id);
    expect((await api('DELETE', `/api/tenants/${tenantA.id}/api-keys/${created.id}`)).status).toBe(204);
    const row = await storedKey(created.id);
    expect(row?.revoked_at).not.toBeNull();
    expect(row?.secret_hash).toBe(sha256Hex(created.key));
    const fetched = await api('GET', `/api/tenants/${tenantA.id}/api-keys/${created.id}`);
    expect(fetched.status).toBe(200);
    expect(Date.parse(fetched.body.revoked_at)).toBe(Date.parse(row?.revoked_at as string));
    const listed = await api('GET', `/api/tenants/${tenantA.id}/api-keys?limit=100`);
    expect(listed.body.data.find((k: { id: string }) => k.id === created.id)?.revoked_at).toBe(fetched.body.revoked_at);
  });

  it('is idempotent: revoking again answers 204 and keeps the first revoked_at', async () => {
    const created = await issueKey(tenantA.id);
    expect((await api('DELETE', `/api/tenants/${tenantA.id}/api-keys/${created.id}`)).status).toBe(204);
    const first = (await storedKey(created.id))?.revoked_at;
    expect(first).not.toBeNull();
    await sleep(20);
    expect((await api('DELETE', `/api/tenants/${tenantA.id}/api-keys/${created.id}`)).status).toBe(204);
    expect((await storedKey(created.id))?.revoked_at).toBe(first);
    expectUnauthorized(await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key }));
  });

  it('leaves the tenant’s other keys working', async () => {
    const kept = await issueKey(tenantA.id);
    const dropped = await issueKey(tenantA.id);
    expect((await api('DELETE', `/api/tenants/${tenantA.id}/api-keys/${dropped.id}`)).status).toBe(204);
    expect((await api('GET', `/api/tenants/${tenantA.id}`, { token: kept.key })).status).toBe(200);
  });
});

describe('expiry', () => {
  it('a key works until its expiry and is refused with 401 once it has passed', async () => {
    const expiresAt = new Date(Date.now() + 2_000).toISOString();
    const created = await issueKey(tenantA.id, { expires_at: expiresAt });
    expect((await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key })).status).toBe(200);
    await sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 500);
    const refused = await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key });
    expectUnauthorized(refused);
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token');
    // Still listed, with its expiry.
    const fetched = await api('GET', `/api/tenants/${tenantA.id}/api-keys/${created.id}`);
    expect(fetched.body.expires_at).toBe(expiresAt);
  });
});

describe('the key’s tenant must be active', () => {
  it.each(['suspended', 'deleted'])(
    'a %s tenant’s key is refused with 403 tenant_inactive, and works again once the tenant is reactivated',
    async (status) => {
      const tenant = await createTenant();
      const created = await issueKey(tenant.id);
      expect((await api('GET', `/api/tenants/${tenant.id}`, { token: created.key })).status).toBe(200);

      expect((await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status } })).status).toBe(200);
      const refused = await api('GET', `/api/tenants/${tenant.id}`, { token: created.key });
      const problem = expectProblem(refused, 403, 'tenant_inactive');
      expect(problem.detail).toContain(status);
      const did = randomDid();
      expectProblem(
        await api('POST', `/api/tenants/${tenant.id}/phone-numbers`, { token: created.key, body: { did_number: did } }),
        403,
        'tenant_inactive',
      );
      expect((await sql('select count(*)::int as n from phone_numbers where did_number = $1', [did])).rows[0].n).toBe(0);

      expect((await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'active' } })).status).toBe(200);
      expect((await api('GET', `/api/tenants/${tenant.id}`, { token: created.key })).status).toBe(200);
    },
  );
});

describe('last_used_at', () => {
  const lastUsed = async (id: string) => (await storedKey(id))?.last_used_at ?? null;

  it('is null until the key is first used, then set shortly after the use', async () => {
    const created = await issueKey(tenantA.id);
    expect(created.last_used_at).toBeNull();
    expect(await lastUsed(created.id)).toBeNull();
    const { rows } = await sql('select now()::text as now');
    const before = rows[0].now as string;

    expect((await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key })).status).toBe(200);
    const stamped = await waitFor(
      () => lastUsed(created.id),
      (value) => value !== null,
    );
    expect(stamped).not.toBeNull();
    const { rows: check } = await sql('select $1::timestamptz >= $2::timestamptz and $1::timestamptz <= now() as within', [
      stamped,
      before,
    ]);
    expect(check[0].within).toBe(true);

    const fetched = await api('GET', `/api/tenants/${tenantA.id}/api-keys/${created.id}`);
    expect(Date.parse(fetched.body.last_used_at)).toBe(Date.parse(stamped as string));
  });

  it('is not written again by another use within the minute', async () => {
    const created = await issueKey(tenantA.id);
    expect((await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key })).status).toBe(200);
    const first = await waitFor(
      () => lastUsed(created.id),
      (value) => value !== null,
    );
    expect(first).not.toBeNull();

    await sleep(50);
    expect((await api('GET', `/api/tenants/${tenantA.id}/phone-numbers`, { token: created.key })).status).toBe(200);
    expect((await api('GET', `/api/tenants/${tenantA.id}/calls`, { token: created.key })).status).toBe(200);
    await sleep(750);
    expect(await lastUsed(created.id)).toBe(first);
  });

  it('is written again by a use once the recorded one is over a minute old', async () => {
    const created = await issueKey(tenantA.id);
    await sql(`update api_keys set last_used_at = now() - interval '90 seconds' where id = $1`, [created.id]);
    const old = await lastUsed(created.id);
    expect((await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key })).status).toBe(200);
    const renewed = await waitFor(
      () => lastUsed(created.id),
      (value) => value !== old,
    );
    expect(renewed).not.toBe(old);
    const { rows } = await sql(`select $1::timestamptz > now() - interval '10 seconds' as recent`, [renewed]);
    expect(rows[0].recent).toBe(true);
  });

  it('is not touched by a refused key', async () => {
    const created = await issueKey(tenantA.id);
    expect((await api('DELETE', `/api/tenants/${tenantA.id}/api-keys/${created.id}`)).status).toBe(204);
    expectUnauthorized(await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key }));
    await sleep(500);
    expect(await lastUsed(created.id)).toBeNull();
  });
});

describe('keys that are not issued keys', () => {
  it('the right lookup prefix with a wrong secret is 401, and the real key keeps working', async () => {
    const created = await issueKey(tenantA.id);
    const forged = withWrongSecret(created.key, created.prefix);
    expect(forged).not.toBe(created.key);
    expect(forged.startsWith(created.prefix)).toBe(true);
    expect(forged.length).toBe(created.key.length);
    const refused = await api('GET', `/api/tenants/${tenantA.id}`, { token: forged });
    expectUnauthorized(refused);
    expect(refused.text).not.toContain(forged);
    expect((await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key })).status).toBe(200);
  });

  it('a random vca_ key is 401', async () => {
    const random = `vca_${randomBytes(32).toString('base64url')}`;
    expectUnauthorized(await api('GET', `/api/tenants/${tenantA.id}`, { token: random }));
  });

  it('a real key cut short or lengthened is 401', async () => {
    const created = await issueKey(tenantA.id);
    expectUnauthorized(await api('GET', `/api/tenants/${tenantA.id}`, { token: created.key.slice(0, -1) }));
    expectUnauthorized(await api('GET', `/api/tenants/${tenantA.id}`, { token: `${created.key}A` }));
  });

  it('the stored hash presented as a key is 401', async () => {
    const created = await issueKey(tenantA.id);
    expectUnauthorized(await api('GET', `/api/tenants/${tenantA.id}`, { token: sha256Hex(created.key) }));
    expectUnauthorized(await api('GET', `/api/tenants/${tenantA.id}`, { token: `vca_${sha256Hex(created.key)}` }));
  });
});
