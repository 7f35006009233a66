// The access matrix: every operation the live OpenAPI document lists under /api, tried with every
// kind of credential, against tenant A's real resources. Each cell asserts the status (and problem
// code) the table below expects, and that the database changed only when the request succeeded
// with a write: a refused request changes nothing, anywhere.
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createAiProfile,
  createPhoneNumber,
  createTenant,
  expectProblem,
  insertCall,
  OPERATOR,
  randomDid,
  sql,
} from './support/api.ts';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// Collected from the running Worker when this file loads, so the matrix covers the live routes.
const spec = await api('GET', '/openapi.json', { token: null });
if (spec.status !== 200) throw new Error(`GET /openapi.json answered ${spec.status}: ${spec.text}`);

const OPERATIONS: string[] = Object.entries((spec.body?.paths ?? {}) as Record<string, Record<string, unknown>>)
  .filter(([template]) => template.startsWith('/api/'))
  .flatMap(([template, item]) =>
    Object.keys(item)
      .filter((method) => HTTP_METHODS.includes(method))
      .map((method) => `${method.toUpperCase()} ${template}`),
  );

/**
 * The expected status of every operation for every credential. "own" is a key of tenant A (whose
 * ids fill the path), "other" an active key of tenant B; "revoked" and "expired" are A's keys;
 * "none" sends no Authorization header; "malformed" is each of the MALFORMED headers below.
 *
 *   operator        → the route's success status
 *   own key         → success on tenant routes, 403 operator_only on operator-only routes
 *   other's key     → 404 tenant_not_found on A's paths, 403 operator_only on /api/tenants itself
 *   revoked/expired/none/malformed → 401 unauthorized with WWW-Authenticate
 */
type Column = 'operator' | 'own' | 'other' | 'revoked' | 'expired' | 'none' | 'malformed';
// biome-ignore format: the table is aligned so that it can be read as a table
const EXPECTED: Record<string, Record<Column, number>> = {
  'GET /api/tenants':                                                  { operator: 200, own: 403, other: 403, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'POST /api/tenants':                                                 { operator: 201, own: 403, other: 403, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}':                                      { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'PATCH /api/tenants/{tenant_id}':                                    { operator: 200, own: 403, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'POST /api/tenants/{tenant_id}/phone-numbers':                       { operator: 201, own: 403, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/phone-numbers':                        { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/phone-numbers/{phone_number_id}':      { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'PATCH /api/tenants/{tenant_id}/phone-numbers/{phone_number_id}':    { operator: 200, own: 403, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'POST /api/tenants/{tenant_id}/ai-profiles':                         { operator: 201, own: 201, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/ai-profiles':                          { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}':          { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'PATCH /api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}':        { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/calls':                                { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/calls/stats':                          { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/calls/{call_id}':                      { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/calls/{call_id}/transcript':           { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'POST /api/tenants/{tenant_id}/api-keys':                            { operator: 201, own: 403, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/api-keys':                             { operator: 200, own: 403, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/api-keys/{api_key_id}':                { operator: 200, own: 403, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'DELETE /api/tenants/{tenant_id}/api-keys/{api_key_id}':             { operator: 204, own: 403, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
  'GET /api/tenants/{tenant_id}/audit-events':                         { operator: 200, own: 200, other: 404, revoked: 401, expired: 401, none: 401, malformed: 401 },
};

/** A valid body for every write, fresh for each request (unique names and DIDs), so a success is a real change. */
const BODIES: Record<string, () => Record<string, unknown>> = {
  'POST /api/tenants': () => ({ name: `Matrix ${randomUUID()}` }),
  'PATCH /api/tenants/{tenant_id}': () => ({ plan: 'growth' }),
  'POST /api/tenants/{tenant_id}/phone-numbers': () => ({ did_number: randomDid() }),
  'PATCH /api/tenants/{tenant_id}/phone-numbers/{phone_number_id}': () => ({ is_active: false }),
  'POST /api/tenants/{tenant_id}/ai-profiles': () => ({
    name: `Matrix ${randomUUID()}`,
    role: 'support',
    system_prompt: 'Answer briefly.',
  }),
  'PATCH /api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}': () => ({ name: `Matrix ${randomUUID()}` }),
  'POST /api/tenants/{tenant_id}/api-keys': () => ({ name: `Matrix ${randomUUID()}` }),
};

/** Authorization headers that are not a credential at all. */
const MALFORMED: [string, () => string][] = [
  ['the Bearer scheme alone', () => 'Bearer'],
  ['Basic credentials', () => 'Basic dXNlcjpwYXNz'],
  [
    'a vca_ bearer with spaces in it',
    () => `Bearer vca_${randomBytes(12).toString('base64url')} ${randomBytes(12).toString('base64url')} x`,
  ],
];

interface Fixture {
  tenantA: string;
  tenantB: string;
  phoneNumber: string;
  did: string;
  aiProfile: string;
  call: string;
  /** The key named in /api-keys/{api_key_id} paths (the operator's DELETE revokes it). */
  targetKey: { id: string; key: string };
  ownKey: { id: string; key: string };
  otherKey: { id: string; key: string };
  revokedKey: { id: string; key: string };
  expiredKey: { id: string; key: string };
}

let fx: Fixture;
/** The summary of the fixture call's transcript: no refusal may show it. */
const TRANSCRIPT_SUMMARY = `Matrix summary ${randomUUID()}`;

/** One cell's credential: its column in EXPECTED and the Authorization header it sends (none: null). */
const CREDENTIALS: { label: string; column: Column; authorization: () => string | null }[] = [
  { label: 'another tenant’s key', column: 'other', authorization: () => `Bearer ${fx.otherKey.key}` },
  { label: 'a revoked key', column: 'revoked', authorization: () => `Bearer ${fx.revokedKey.key}` },
  { label: 'an expired key', column: 'expired', authorization: () => `Bearer ${fx.expiredKey.key}` },
  { label: 'no Authorization header', column: 'none', authorization: () => null },
  ...MALFORMED.map(([label, header]) => ({ label: `a malformed header: ${label}`, column: 'malformed' as const, authorization: header })),
  // The successes come last in each operation, so the refusals before them meet the resources untouched
  // (the key the operator's DELETE revokes is still active while the others try).
  { label: 'the tenant’s own key', column: 'own', authorization: () => `Bearer ${fx.ownKey.key}` },
  { label: 'an operator token', column: 'operator', authorization: () => `Bearer ${OPERATOR}` },
];

async function issueKey(tenantId: string, fields: Record<string, unknown> = {}) {
  const response = await api('POST', `/api/tenants/${tenantId}/api-keys`, { body: { name: 'Matrix key', ...fields } });
  if (response.status !== 201) throw new Error(`issueKey: ${response.status} ${response.text}`);
  return { id: response.body.id as string, key: response.body.key as string, expiresAt: response.body.expires_at as string | null };
}

async function expectKeyWorks(tenantId: string, key: string) {
  const response = await api('GET', `/api/tenants/${tenantId}`, { token: key });
  if (response.status !== 200) throw new Error(`a fixture key does not work: ${response.status} ${response.text}`);
}

beforeAll(async () => {
  const tenantA = (await createTenant()).id;
  const tenantB = (await createTenant()).id;
  // The expired key works first (proving it is a real key), then its expiry passes.
  const expiring = await issueKey(tenantA, { expires_at: new Date(Date.now() + 1_500).toISOString() });
  await expectKeyWorks(tenantA, expiring.key);

  const number = await createPhoneNumber(tenantA);
  await createPhoneNumber(tenantB);
  const profile = await createAiProfile(tenantA);
  await createAiProfile(tenantB);
  const call = await insertCall(tenantA, number, { ai_profile_id: profile.id });
  await sql(`insert into call_transcripts (call_id, tenant_id, turns, summary) values ($1, $2, '[]', $3)`, [
    call,
    tenantA,
    TRANSCRIPT_SUMMARY,
  ]);

  const ownKey = await issueKey(tenantA);
  const otherKey = await issueKey(tenantB);
  const targetKey = await issueKey(tenantA);
  const revokedKey = await issueKey(tenantA);
  for (const [tenant, key] of [
    [tenantA, ownKey],
    [tenantB, otherKey],
    [tenantA, targetKey],
    [tenantA, revokedKey],
  ] as const)
    await expectKeyWorks(tenant, key.key);
  const revoked = await api('DELETE', `/api/tenants/${tenantA}/api-keys/${revokedKey.id}`);
  if (revoked.status !== 204) throw new Error(`revoking a fixture key: ${revoked.status} ${revoked.text}`);

  await sleep(Math.max(0, Date.parse(expiring.expiresAt as string) - Date.now()) + 300);
  fx = {
    tenantA,
    tenantB,
    phoneNumber: number.id,
    did: number.did_number,
    aiProfile: profile.id,
    call,
    targetKey,
    ownKey,
    otherKey,
    revokedKey,
    expiredKey: expiring,
  };
});

/** A's real ids in place of the path parameters. */
function fill(template: string): string {
  const ids: Record<string, string> = {
    tenant_id: fx.tenantA,
    phone_number_id: fx.phoneNumber,
    ai_profile_id: fx.aiProfile,
    call_id: fx.call,
    api_key_id: fx.targetKey.id,
  };
  return template.replace(/\{([a-z_]+)\}/g, (_match, name: string) => {
    const id = ids[name];
    if (!id) throw new Error(`no fixture for path parameter {${name}}`);
    return id;
  });
}

/**
 * Everything a request could have changed: both tenants and all their rows (keys without
 * last_used_at, which authentication itself maintains), their audit events, and anything named
 * like the request's body anywhere (a tenant created by name, a DID attached to any tenant).
 */
async function snapshot(body: Record<string, unknown> | undefined) {
  const ids = [fx.tenantA, fx.tenantB];
  const rows = async (query: string) => (await sql(query, [ids])).rows.map((row) => row.row);
  return {
    tenants: await rows('select to_jsonb(t) as row from tenants t where id = any($1) order by id'),
    phoneNumbers: await rows('select to_jsonb(p) as row from phone_numbers p where tenant_id = any($1) order by id'),
    aiProfiles: await rows('select to_jsonb(a) as row from ai_profiles a where tenant_id = any($1) order by id'),
    calls: await rows('select to_jsonb(c) as row from calls c where tenant_id = any($1) order by id'),
    callTranscripts: await rows('select to_jsonb(t) as row from call_transcripts t where tenant_id = any($1) order by call_id'),
    apiKeys: await rows(`select to_jsonb(k) - 'last_used_at' as row from api_keys k where tenant_id = any($1) order by id`),
    auditEvents: await rows('select id as row from audit_events where tenant_id = any($1) order by id'),
    tenantsNamedLikeBody: (await sql('select count(*)::int as n from tenants where name = $1', [String(body?.name ?? '')])).rows[0].n,
    numbersWithBodyDid: (await sql('select count(*)::int as n from phone_numbers where did_number = $1', [String(body?.did_number ?? '')]))
      .rows[0].n,
  };
}

const CODES: Record<number, string> = { 401: 'unauthorized', 403: 'operator_only', 404: 'tenant_not_found' };

describe('the matrix itself', () => {
  it('is generated from the live OpenAPI document: at least 20 operations under /api', () => {
    expect(OPERATIONS.length).toBeGreaterThanOrEqual(20);
    expect(new Set(OPERATIONS).size).toBe(OPERATIONS.length);
  });

  it('has an expected row for every live operation, and no row for an operation that does not exist', () => {
    expect([...OPERATIONS].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const operation of Object.keys(BODIES)) expect(OPERATIONS).toContain(operation);
  });

  it('gives a body to every write the document says takes one', () => {
    for (const operation of OPERATIONS) {
      const [method, template] = operation.split(' ') as [string, string];
      const takesBody = Boolean(spec.body.paths[template][method.toLowerCase()].requestBody);
      expect(operation in BODIES, operation).toBe(takesBody);
    }
  });

  it('uses credentials that are what their names say', async () => {
    const key = async (id: string) =>
      (await sql('select tenant_id, revoked_at, expires_at, expires_at < now() as expired from api_keys where id = $1', [id])).rows[0];
    expect(await key(fx.ownKey.id)).toMatchObject({ tenant_id: fx.tenantA, revoked_at: null, expires_at: null });
    expect(await key(fx.otherKey.id)).toMatchObject({ tenant_id: fx.tenantB, revoked_at: null, expires_at: null });
    expect(await key(fx.revokedKey.id)).toMatchObject({ tenant_id: fx.tenantA, revoked_at: expect.any(Date), expires_at: null });
    expect(await key(fx.expiredKey.id)).toMatchObject({ tenant_id: fx.tenantA, revoked_at: null, expired: true });
    expect((await api('GET', `/api/tenants/${fx.tenantB}`, { token: fx.otherKey.key })).status).toBe(200);
  });
});

describe.each(OPERATIONS)('%s', (operation) => {
  const [method, template] = operation.split(' ') as [string, string];
  const isWrite = method !== 'GET';

  it.each(CREDENTIALS)('with $label', async ({ column, authorization }) => {
    const expected = EXPECTED[operation]?.[column] as number;
    expect(expected, `no expected status for ${operation}`).toBeDefined();
    const body = BODIES[operation]?.();
    const header = authorization();
    const before = await snapshot(body);

    const requestId = `matrix-${randomUUID()}`;
    const headers: Record<string, string> = { 'x-request-id': requestId, ...(header === null ? {} : { authorization: header }) };
    const response = await api(method, fill(template), { token: null, headers, body });
    const audited = (await sql('select count(*)::int as n from audit_events where request_id = $1', [requestId])).rows[0].n;

    expect(response.status, response.text).toBe(expected);
    const after = await snapshot(body);
    if (expected >= 300) {
      expectProblem(response, expected, CODES[expected] as string);
      if (expected === 401) expect(response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      // A refusal tells nothing about A's resources.
      for (const secret of [fx.did, fx.phoneNumber, fx.aiProfile, fx.call, fx.targetKey.id, TRANSCRIPT_SUMMARY])
        expect(response.text).not.toContain(secret);
      expect(after, 'a refused request changed the database').toEqual(before);
      expect(audited, 'a refused request wrote an audit event').toBe(0);
    } else if (isWrite) {
      expect(after, 'a successful write changed nothing').not.toEqual(before);
      expect(audited, 'a successful write is audited exactly once').toBe(1);
    } else {
      expect(after, 'a read changed the database').toEqual(before);
      expect(audited, 'a read wrote an audit event').toBe(0);
    }
  });
});
