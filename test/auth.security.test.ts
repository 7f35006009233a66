// Operator authentication, checked on every operation the live OpenAPI document lists under /api:
// a request without a valid `Authorization: Bearer <token>` is 401 before anything else happens.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ApiResponse, api, createTenant, expectProblem, OPERATOR, randomDid, sql } from './support/api.ts';
import { OPERATOR_TOKENS } from './support/constants.ts';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Operation {
  method: string;
  template: string;
  path: string;
  body?: Record<string, unknown>;
}

// Collected from the running Worker when this file loads, so the cases below are the live routes.
const spec = await api('GET', '/openapi.json', { token: null });
if (spec.status !== 200) throw new Error(`GET /openapi.json answered ${spec.status}: ${spec.text}`);

const OPERATIONS: Operation[] = Object.entries((spec.body?.paths ?? {}) as Record<string, Record<string, unknown>>)
  .filter(([template]) => template.startsWith('/api/'))
  .flatMap(([template, item]) =>
    Object.keys(item)
      .filter((method) => HTTP_METHODS.includes(method))
      .map((method) => ({
        method: method.toUpperCase(),
        template,
        path: template.replace(/\{[^}]+\}/g, () => randomUUID()),
        // A JSON body for writes, so nothing but the credentials can be what the request lacks.
        body: ['POST', 'PUT', 'PATCH'].includes(method.toUpperCase()) ? {} : undefined,
      })),
  );

const [OLD_TOKEN, NEW_TOKEN] = OPERATOR_TOKENS;

/** Authorization headers that must all be refused (no header at all is the first case). */
const BAD_CREDENTIALS: [string, Record<string, string>][] = [
  ['no Authorization header', {}],
  ['an unknown bearer token', { authorization: 'Bearer wrong-token-123456' }],
  ['Basic credentials', { authorization: 'Basic dXNlcjpwYXNz' }],
  ['the Bearer scheme without a token', { authorization: 'Bearer' }],
  ['a valid token followed by a junk segment', { authorization: `bearer ${OPERATOR} extra` }],
  ['a prefix of a valid token', { authorization: `Bearer ${OPERATOR.slice(0, -1)}` }],
  ['a valid token with extra characters appended', { authorization: `Bearer ${OLD_TOKEN}x` }],
  ['both valid tokens joined as the configured list is', { authorization: `Bearer ${OLD_TOKEN},${NEW_TOKEN}` }],
  ['a valid token without a scheme', { authorization: OPERATOR }],
];

function expectUnauthorized(response: ApiResponse) {
  const problem = expectProblem(response, 401, 'unauthorized');
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  // An auth failure is about credentials: no cache may keep it.
  expect(response.headers.get('cache-control')).toBe('no-store');
  for (const token of OPERATOR_TOKENS) expect(response.text).not.toContain(token);
  return problem;
}

describe('the operations under test', () => {
  it('come from the live OpenAPI document and cover every documented /api route', () => {
    expect(OPERATIONS.length).toBeGreaterThanOrEqual(14);
    const names = OPERATIONS.map((op) => `${op.method} ${op.template}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'GET /api/tenants',
        'POST /api/tenants',
        'PATCH /api/tenants/{tenant_id}',
        'POST /api/tenants/{tenant_id}/phone-numbers',
        'PATCH /api/tenants/{tenant_id}/phone-numbers/{phone_number_id}',
        'POST /api/tenants/{tenant_id}/ai-profiles',
        'PATCH /api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}',
        'GET /api/tenants/{tenant_id}/calls',
        'GET /api/tenants/{tenant_id}/calls/{call_id}',
      ]),
    );
    for (const op of OPERATIONS) expect(op.path).not.toMatch(/[{}]/);
  });

  it('declare bearer authentication in the document', () => {
    expect(spec.body.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const op of OPERATIONS) {
      expect(spec.body.paths[op.template][op.method.toLowerCase()].security, `${op.method} ${op.template}`).toEqual([{ bearerAuth: [] }]);
    }
  });
});

describe.each(OPERATIONS)('$method $template', ({ method, path, body }) => {
  it.each(BAD_CREDENTIALS)('answers 401 unauthorized with WWW-Authenticate: Bearer to %s', async (_label, headers) => {
    expectUnauthorized(await api(method, path, { token: null, headers, body }));
  });

  it('gets past authentication with a valid operator token', async () => {
    const response = await api(method, path, { body });
    expect(response.status, response.text).not.toBe(401);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });
});

describe('operator tokens', () => {
  it.each(OPERATOR_TOKENS.map((token, index) => [index === 0 ? 'old' : 'new', token]))(
    'accepts the %s token while both are configured (rotation)',
    async (_label, token) => {
      const list = await api('GET', '/api/tenants?limit=1', { token });
      expect(list.status).toBe(200);
      expect(list.body.data).toEqual(expect.any(Array));

      const name = `Rotation ${randomUUID()}`;
      const created = await api('POST', '/api/tenants', { token, body: { name } });
      expect(created.status).toBe(201);
      const { rows } = await sql('select count(*)::int as n from tenants where name = $1', [name]);
      expect(rows[0].n).toBe(1);
    },
  );

  it.each([
    ['bearer', 'lower case'],
    ['BEARER', 'upper case'],
    ['BeArEr', 'mixed case'],
  ])('accepts the scheme written as "%s" (%s)', async (scheme) => {
    const response = await api('GET', '/api/tenants?limit=1', { token: null, headers: { authorization: `${scheme} ${OPERATOR}` } });
    expect(response.status).toBe(200);
  });

  it('does not echo the presented token in the 401 body', async () => {
    const presented = `not-a-real-token-${randomUUID()}`;
    const response = await api('GET', '/api/tenants', { token: presented });
    expectUnauthorized(response);
    expect(response.text).not.toContain(presented);
    expect(response.headers.get('www-authenticate')).toContain('invalid_token');
  });
});

describe('a write with bad credentials changes nothing', () => {
  it.each(BAD_CREDENTIALS)('does not create a tenant with %s', async (_label, headers) => {
    const name = `Intruder ${randomUUID()}`;
    expectUnauthorized(await api('POST', '/api/tenants', { token: null, headers, body: { name } }));
    const { rows } = await sql('select count(*)::int as n from tenants where name = $1', [name]);
    expect(rows[0].n).toBe(0);
  });

  it('does not change an existing tenant, attach a number or add a profile', async () => {
    const tenant = await createTenant();
    const snapshot = async () => ({
      tenant: (await sql('select to_jsonb(t) as row from tenants t where id = $1', [tenant.id])).rows[0].row,
      phones: (await sql('select count(*)::int as n from phone_numbers where tenant_id = $1', [tenant.id])).rows[0].n,
      profiles: (await sql('select count(*)::int as n from ai_profiles where tenant_id = $1', [tenant.id])).rows[0].n,
    });
    const before = await snapshot();
    const did = randomDid();
    const badAuth = { authorization: 'Bearer wrong-token-123456' };

    expectUnauthorized(await api('PATCH', `/api/tenants/${tenant.id}`, { token: null, headers: badAuth, body: { status: 'suspended' } }));
    expectUnauthorized(
      await api('POST', `/api/tenants/${tenant.id}/phone-numbers`, {
        token: null,
        headers: badAuth,
        body: { did_number: did },
      }),
    );
    expectUnauthorized(
      await api('POST', `/api/tenants/${tenant.id}/ai-profiles`, {
        token: null,
        headers: badAuth,
        body: { name: 'Intruder', role: 'custom', system_prompt: 'x', is_default: true },
      }),
    );

    expect(await snapshot()).toEqual(before);
    const { rows } = await sql('select count(*)::int as n from phone_numbers where did_number = $1', [did]);
    expect(rows[0].n).toBe(0);
  });
});
