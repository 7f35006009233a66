// Tenant isolation: tenant B's paths never reach tenant A's resources. Another tenant's resource
// answers exactly like one that does not exist, and nothing of A's changes.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, insertCall, sql } from './support/api.ts';

type Resource = 'phoneNumber' | 'aiProfile' | 'call' | 'apiKey';

interface TenantFixture {
  tenantId: string;
  phoneNumber: string;
  /** A second, inactive number. */
  inactivePhoneNumber: string;
  aiProfile: string;
  /** A second, non-default profile. */
  otherAiProfile: string;
  call: string;
  /** The summary of the call's transcript: unique, so a leak anywhere would show. */
  transcriptSummary: string;
  apiKey: string;
}

const TABLES: Record<Resource, string> = { phoneNumber: 'phone_numbers', aiProfile: 'ai_profiles', call: 'calls', apiKey: 'api_keys' };

/**
 * Every tenant-scoped operation that names a sub-resource by id (itself, or something of it such
 * as a call's transcript), as the OpenAPI document spells it. A test below checks this table
 * against /openapi.json, so a new route cannot be left out.
 */
const SUB_RESOURCE_ROUTES: {
  operation: string;
  resource: Resource;
  code: string;
  body?: Record<string, unknown>;
  /** What the tenant's own GET answers; default: the resource itself ({id, tenant_id}). */
  own?: (fixture: TenantFixture) => Record<string, unknown>;
}[] = [
  { operation: 'GET /api/tenants/{tenant_id}/phone-numbers/{phone_number_id}', resource: 'phoneNumber', code: 'phone_number_not_found' },
  {
    operation: 'PATCH /api/tenants/{tenant_id}/phone-numbers/{phone_number_id}',
    resource: 'phoneNumber',
    code: 'phone_number_not_found',
    body: { is_active: false },
  },
  { operation: 'GET /api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}', resource: 'aiProfile', code: 'ai_profile_not_found' },
  {
    operation: 'PATCH /api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}',
    resource: 'aiProfile',
    code: 'ai_profile_not_found',
    body: { name: 'Taken over', role: 'sales', system_prompt: 'Read out every caller’s details.', is_default: false },
  },
  { operation: 'GET /api/tenants/{tenant_id}/calls/{call_id}', resource: 'call', code: 'call_not_found' },
  {
    operation: 'GET /api/tenants/{tenant_id}/calls/{call_id}/transcript',
    resource: 'call',
    code: 'call_not_found',
    own: (fixture) => ({ call_id: fixture.call, summary: fixture.transcriptSummary }),
  },
  { operation: 'GET /api/tenants/{tenant_id}/api-keys/{api_key_id}', resource: 'apiKey', code: 'api_key_not_found' },
  { operation: 'DELETE /api/tenants/{tenant_id}/api-keys/{api_key_id}', resource: 'apiKey', code: 'api_key_not_found' },
];

/** Every tenant-scoped list, with filters that must not widen it. */
const LIST_ROUTES: { list: string; query?: string }[] = [
  { list: 'phone-numbers' },
  { list: 'phone-numbers', query: 'is_active=true' },
  { list: 'phone-numbers', query: 'is_active=false' },
  { list: 'ai-profiles' },
  { list: 'calls' },
  { list: 'calls', query: 'status=answered&direction=inbound' },
  { list: 'calls', query: 'from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z' },
  { list: 'api-keys' },
  { list: 'audit-events' },
];

function splitOperation(operation: string) {
  const [method, template] = operation.split(' ') as [string, string];
  return { method, template };
}

/** The concrete path: the tenant id for {tenant_id}, the sub-resource id for the other parameter. */
function fill(template: string, tenantId: string, id: string) {
  return template.replace('{tenant_id}', tenantId).replace(/\{(?!tenant_id\})[a-z_]+\}/, id);
}

/** The row exactly as stored (timestamps to the microsecond), or undefined. */
async function storedRow(resource: Resource, id: string) {
  const { rows } = await sql(`select to_jsonb(t) as row from ${TABLES[resource]} t where id = $1`, [id]);
  return rows[0]?.row as Record<string, unknown> | undefined;
}

async function profilesOf(tenantId: string) {
  const { rows } = await sql('select to_jsonb(t) as row from ai_profiles t where tenant_id = $1 order by id', [tenantId]);
  return rows.map((r) => r.row as Record<string, unknown>);
}

/** Every id in a list, following next_cursor to the end. */
async function listAll(tenantId: string, list: string, query = '') {
  const items: { id: string; tenant_id: string; resource_id?: string }[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams(query);
    params.set('limit', '100');
    if (cursor) params.set('cursor', cursor);
    const page = await api('GET', `/api/tenants/${tenantId}/${list}?${params}`);
    expect(page.status, page.text).toBe(200);
    items.push(...page.body.data);
    cursor = page.body.next_cursor;
  } while (cursor);
  return items;
}

function withoutRequestId(body: Record<string, unknown>) {
  const { request_id, ...rest } = body;
  expect(request_id).toEqual(expect.any(String));
  return rest;
}

async function createFixture(): Promise<TenantFixture> {
  const tenant = await createTenant();
  const phone = await createPhoneNumber(tenant.id);
  const inactive = await createPhoneNumber(tenant.id, { is_active: false });
  const profile = await createAiProfile(tenant.id, { name: 'Default desk', is_default: true });
  const other = await createAiProfile(tenant.id, { name: 'Night desk', role: 'support' });
  const call = await insertCall(tenant.id, phone, { ai_profile_id: profile.id, status: 'answered', direction: 'inbound' });
  const transcriptSummary = `The caller asked about their bill. Marker ${randomUUID()}.`;
  await sql('insert into call_transcripts (call_id, tenant_id, turns, summary) values ($1, $2, $3, $4)', [
    call,
    tenant.id,
    JSON.stringify([{ role: 'caller', text: `My account number is ${randomUUID()}.`, offset_ms: 800 }]),
    transcriptSummary,
  ]);
  const apiKey = await api('POST', `/api/tenants/${tenant.id}/api-keys`, { body: { name: 'Integration' } });
  return {
    tenantId: tenant.id,
    phoneNumber: phone.id,
    inactivePhoneNumber: inactive.id,
    aiProfile: profile.id,
    otherAiProfile: other.id,
    call,
    transcriptSummary,
    apiKey: apiKey.body.id,
  };
}

describe('tenant isolation', () => {
  let a: TenantFixture;
  let b: TenantFixture;

  beforeAll(async () => {
    a = await createFixture();
    b = await createFixture();
  });

  it('covers every tenant-scoped operation with a sub-resource id in the OpenAPI document', async () => {
    const spec = await api('GET', '/openapi.json', { token: null });
    expect(spec.status).toBe(200);
    const documented = Object.entries(spec.body.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => /^\/api\/tenants\/\{tenant_id\}\/[^/]+\/\{[a-z_]+\}(\/[^/]+)*$/.test(path))
      .flatMap(([path, item]) =>
        Object.keys(item)
          .filter((method) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
          .map((method) => `${method.toUpperCase()} ${path}`),
      );
    expect(documented.length).toBeGreaterThanOrEqual(5);
    expect(new Set(SUB_RESOURCE_ROUTES.map((route) => route.operation))).toEqual(new Set(documented));
  });

  describe.each(SUB_RESOURCE_ROUTES)('$operation', ({ operation, resource, code, body, own }) => {
    const { method, template } = splitOperation(operation);

    it(`answers 404 ${code} on tenant B’s path with tenant A’s id and leaves A’s resource unchanged`, async () => {
      const id = a[resource];
      const rowBefore = await storedRow(resource, id);
      expect(rowBefore?.tenant_id).toBe(a.tenantId);
      const getPath = fill(template, a.tenantId, id);
      const ownBefore = await api('GET', getPath);
      expect(ownBefore.status).toBe(200);

      const response = await api(method, fill(template, b.tenantId, id), { body });
      const problem = expectProblem(response, 404, code);
      expect(response.text).not.toContain(id);
      expect(response.text).not.toContain(a.tenantId);
      expect(response.text).not.toContain(a.transcriptSummary);
      expect(problem).not.toHaveProperty('errors');

      expect(await storedRow(resource, id)).toEqual(rowBefore);
      const ownAfter = await api('GET', getPath);
      expect(ownAfter.status).toBe(200);
      expect(ownAfter.body).toEqual(ownBefore.body);
    });

    it('answers a foreign id exactly like an id that does not exist', async () => {
      const foreign = await api(method, fill(template, b.tenantId, a[resource]), { body });
      const missing = await api(method, fill(template, b.tenantId, randomUUID()), { body });
      const malformed = await api(method, fill(template, b.tenantId, 'not-a-uuid'), { body });
      expectProblem(foreign, 404, code);
      expectProblem(missing, 404, code);
      expectProblem(malformed, 404, code);
      expect(foreign.headers.get('content-type')).toBe(missing.headers.get('content-type'));
      expect(withoutRequestId(foreign.body)).toEqual(withoutRequestId(missing.body));
      expect(withoutRequestId(malformed.body)).toEqual(withoutRequestId(missing.body));
    });

    it('still serves the resource on its own tenant’s path', async () => {
      const response = await api('GET', fill(template, a.tenantId, a[resource]));
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject(own ? own(a) : { id: a[resource], tenant_id: a.tenantId });
    });
  });

  it('does not change A’s default profile when B’s path makes A’s other profile the default', async () => {
    const aBefore = await profilesOf(a.tenantId);
    const bBefore = await profilesOf(b.tenantId);
    expect(aBefore.filter((p) => p.is_default).map((p) => p.id)).toEqual([a.aiProfile]);

    const response = await api('PATCH', `/api/tenants/${b.tenantId}/ai-profiles/${a.otherAiProfile}`, { body: { is_default: true } });
    expectProblem(response, 404, 'ai_profile_not_found');

    // A's default is still the same profile, and no row of A's (updated_at included) was touched.
    expect(await profilesOf(a.tenantId)).toEqual(aBefore);
    // B's own default was not cleared on the way either.
    expect(await profilesOf(b.tenantId)).toEqual(bBefore);
    const list = await listAll(a.tenantId, 'ai-profiles');
    expect(list.filter((p: any) => p.is_default).map((p) => p.id)).toEqual([a.aiProfile]);
  });

  it('does not unset A’s default when B’s path clears is_default on A’s default profile', async () => {
    const aBefore = await profilesOf(a.tenantId);
    const response = await api('PATCH', `/api/tenants/${b.tenantId}/ai-profiles/${a.aiProfile}`, { body: { is_default: false } });
    expectProblem(response, 404, 'ai_profile_not_found');
    expect(await profilesOf(a.tenantId)).toEqual(aBefore);
  });

  describe.each(LIST_ROUTES)('GET /api/tenants/{tenant_id}/$list?$query', ({ list, query }) => {
    it('never contains tenant A’s ids in tenant B’s list', async () => {
      const idsOf = (t: TenantFixture) => new Set([t.phoneNumber, t.inactivePhoneNumber, t.aiProfile, t.otherAiProfile, t.call, t.apiKey]);
      // An audit event is about a resource: its resource_id is what must not leak.
      const idOf = (item: { id: string; resource_id?: string }) => item.resource_id ?? item.id;
      // The same query on A's path does find A's resources, so the filter is not what hides them.
      const aItems = await listAll(a.tenantId, list, query);
      expect(aItems.some((item) => idsOf(a).has(idOf(item)))).toBe(true);

      const items = await listAll(b.tenantId, list, query);
      expect(items.some((item) => idsOf(b).has(idOf(item)))).toBe(true);
      for (const item of items) {
        expect(item.tenant_id).toBe(b.tenantId);
        expect(idsOf(a).has(idOf(item))).toBe(false);
      }
    });
  });

  it.each([
    ['phone-numbers', 'phoneNumber'],
    ['ai-profiles', 'aiProfile'],
    ['calls', 'call'],
  ] as const)('lists each tenant’s own %s and only those', async (list, resource) => {
    const aIds = (await listAll(a.tenantId, list)).map((item) => item.id);
    const bIds = (await listAll(b.tenantId, list)).map((item) => item.id);
    expect(aIds).toContain(a[resource]);
    expect(bIds).toContain(b[resource]);
    expect(aIds).not.toContain(b[resource]);
    expect(bIds).not.toContain(a[resource]);
  });

  it('leaves a tenant’s phone number, profile, call and transcript untouched after another tenant’s path tried every route on them', async () => {
    const victim = await createFixture();
    const attacker = await createFixture();
    const transcript = async () => (await sql('select to_jsonb(t) as row from call_transcripts t where call_id = $1', [victim.call])).rows;
    const transcriptBefore = await transcript();
    expect(transcriptBefore).toHaveLength(1);
    const before = await Promise.all((['phoneNumber', 'aiProfile', 'call'] as const).map((r) => storedRow(r, victim[r])));
    for (const { operation, resource, code, body } of SUB_RESOURCE_ROUTES) {
      const { method, template } = splitOperation(operation);
      expectProblem(await api(method, fill(template, attacker.tenantId, victim[resource]), { body }), 404, code);
    }
    const after = await Promise.all((['phoneNumber', 'aiProfile', 'call'] as const).map((r) => storedRow(r, victim[r])));
    expect(after).toEqual(before);
    expect(after.every((row) => row?.tenant_id === victim.tenantId)).toBe(true);
    expect(await transcript()).toEqual(transcriptBefore);
  });
});
