// The audit log: every mutation through the API writes exactly one audit_events row in the same
// transaction as the change — who (operator token fingerprint or API key id), what (action,
// resource, changed fields), when, from where (request id, source IP). Secrets and prompt texts
// are never copied into it; a failed mutation leaves no row. GET …/audit-events lists a tenant's
// events, newest first, with cursor pagination.
import { createHash, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, OPERATOR, randomDid, sql } from './support/api.ts';
import { OPERATOR_TOKENS } from './support/constants.ts';

const [OLD_TOKEN, NEW_TOKEN] = OPERATOR_TOKENS;

interface AuditRow {
  tenant_id: string;
  actor_type: string;
  actor_id: string;
  action: string;
  resource_type: string;
  resource_id: string;
  changes: Record<string, unknown>;
  request_id: string | null;
  source_ip: string | null;
}

/** A unique request id and a client address for one request, sent as a client behind Cloudflare would. */
function trace(ip = '203.0.113.7') {
  const requestId = `audit-${randomUUID()}`;
  return { requestId, ip, headers: { 'x-request-id': requestId, 'cf-connecting-ip': ip } };
}

/** The audit rows a request wrote, found by its request id. */
async function rowsOf(requestId: string): Promise<AuditRow[]> {
  const { rows } = await sql(
    `select tenant_id, actor_type, actor_id, action, resource_type, resource_id, changes, request_id, source_ip
       from audit_events where request_id = $1 order by created_at, id`,
    [requestId],
  );
  return rows;
}

async function tenantEventCount(tenantId: string): Promise<number> {
  const { rows } = await sql('select count(*)::int as n from audit_events where tenant_id = $1', [tenantId]);
  return rows[0].n;
}

/** How many audit rows, across every tenant, contain `text` anywhere. */
async function auditRowsContaining(text: string): Promise<number> {
  const { rows } = await sql('select count(*)::int as n from audit_events a where strpos(to_jsonb(a)::text, $1) > 0', [text]);
  return rows[0].n;
}

async function issueKey(tenantId: string) {
  const response = await api('POST', `/api/tenants/${tenantId}/api-keys`, { body: { name: 'Audit key' } });
  if (response.status !== 201) throw new Error(`issueKey: ${response.status} ${response.text}`);
  return response.body as { id: string; key: string; prefix: string };
}

const OPERATOR_FINGERPRINT = /^operator:[0-9a-f]{16}$/;

let tenant: { id: string };
let phoneNumber: { id: string; did_number: string };
let profile: { id: string };

beforeAll(async () => {
  tenant = await createTenant();
  phoneNumber = await createPhoneNumber(tenant.id);
  profile = await createAiProfile(tenant.id, { is_default: true });
});

describe('every mutation writes exactly one audit row', () => {
  it('creating a tenant: tenant.created with the given fields, the operator, the request id and the source IP', async () => {
    const t = trace('198.51.100.23');
    const name = `Audited ${randomUUID().slice(0, 8)}`;
    const response = await api('POST', '/api/tenants', { headers: t.headers, body: { name, plan: 'growth' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-request-id')).toBe(t.requestId);
    expect(await rowsOf(t.requestId)).toEqual([
      {
        tenant_id: response.body.id,
        actor_type: 'operator',
        actor_id: expect.stringMatching(OPERATOR_FINGERPRINT),
        action: 'tenant.created',
        resource_type: 'tenant',
        resource_id: response.body.id,
        changes: { name, plan: 'growth' },
        request_id: t.requestId,
        source_ip: '198.51.100.23',
      },
    ]);
    expect(await tenantEventCount(response.body.id)).toBe(1);
  });

  it('changing a tenant: tenant.updated with only the changed fields', async () => {
    const own = await createTenant();
    const before = await tenantEventCount(own.id);
    const t = trace();
    const response = await api('PATCH', `/api/tenants/${own.id}`, { headers: t.headers, body: { status: 'suspended', plan: 'custom' } });
    expect(response.status).toBe(200);
    expect(await rowsOf(t.requestId)).toEqual([
      {
        tenant_id: own.id,
        actor_type: 'operator',
        actor_id: expect.stringMatching(OPERATOR_FINGERPRINT),
        action: 'tenant.updated',
        resource_type: 'tenant',
        resource_id: own.id,
        changes: { status: 'suspended', plan: 'custom' },
        request_id: t.requestId,
        source_ip: t.ip,
      },
    ]);
    expect(await tenantEventCount(own.id)).toBe(before + 1);
  });

  it('attaching a phone number: phone_number.created with the stored DID, provider and state', async () => {
    const before = await tenantEventCount(tenant.id);
    const t = trace();
    const did = randomDid();
    const response = await api('POST', `/api/tenants/${tenant.id}/phone-numbers`, {
      headers: t.headers,
      body: { did_number: `0${did.slice(3)}`, is_active: false },
    });
    expect(response.status).toBe(201);
    expect(await rowsOf(t.requestId)).toEqual([
      {
        tenant_id: tenant.id,
        actor_type: 'operator',
        actor_id: expect.stringMatching(OPERATOR_FINGERPRINT),
        action: 'phone_number.created',
        resource_type: 'phone_number',
        resource_id: response.body.id,
        changes: { did_number: did, provider_type: 'generic', is_active: false },
        request_id: t.requestId,
        source_ip: t.ip,
      },
    ]);
    expect(await tenantEventCount(tenant.id)).toBe(before + 1);
  });

  it('changing a phone number: phone_number.updated with is_active', async () => {
    const before = await tenantEventCount(tenant.id);
    const t = trace();
    const response = await api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${phoneNumber.id}`, {
      headers: t.headers,
      body: { is_active: false },
    });
    expect(response.status).toBe(200);
    expect(await rowsOf(t.requestId)).toEqual([
      {
        tenant_id: tenant.id,
        actor_type: 'operator',
        actor_id: expect.stringMatching(OPERATOR_FINGERPRINT),
        action: 'phone_number.updated',
        resource_type: 'phone_number',
        resource_id: phoneNumber.id,
        changes: { is_active: false },
        request_id: t.requestId,
        source_ip: t.ip,
      },
    ]);
    expect(await tenantEventCount(tenant.id)).toBe(before + 1);
  });

  it('creating an AI profile: ai_profile.created, the prompt only as {changed, length}', async () => {
    const before = await tenantEventCount(tenant.id);
    const t = trace();
    const prompt = `You answer for Acme Dental. Marker ${randomUUID()}.`;
    const response = await api('POST', `/api/tenants/${tenant.id}/ai-profiles`, {
      headers: t.headers,
      body: { name: 'Sales desk', role: 'sales', system_prompt: prompt },
    });
    expect(response.status).toBe(201);
    expect(await rowsOf(t.requestId)).toEqual([
      {
        tenant_id: tenant.id,
        actor_type: 'operator',
        actor_id: expect.stringMatching(OPERATOR_FINGERPRINT),
        action: 'ai_profile.created',
        resource_type: 'ai_profile',
        resource_id: response.body.id,
        changes: {
          name: 'Sales desk',
          role: 'sales',
          system_prompt: { changed: true, length: prompt.length },
          is_default: false,
          greeting: null,
          voice: 'alloy',
          language: null,
          max_duration_seconds: 600,
        },
        request_id: t.requestId,
        source_ip: t.ip,
      },
    ]);
    expect(await tenantEventCount(tenant.id)).toBe(before + 1);
  });

  it('changing an AI profile: ai_profile.updated with the changed fields, the prompt only as {changed, length}', async () => {
    const before = await tenantEventCount(tenant.id);
    const t = trace();
    const prompt = `Be brief. Marker ${randomUUID()}.`;
    const response = await api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${profile.id}`, {
      headers: t.headers,
      body: { role: 'support', system_prompt: prompt },
    });
    expect(response.status).toBe(200);
    expect(await rowsOf(t.requestId)).toEqual([
      {
        tenant_id: tenant.id,
        actor_type: 'operator',
        actor_id: expect.stringMatching(OPERATOR_FINGERPRINT),
        action: 'ai_profile.updated',
        resource_type: 'ai_profile',
        resource_id: profile.id,
        changes: { role: 'support', system_prompt: { changed: true, length: prompt.length } },
        request_id: t.requestId,
        source_ip: t.ip,
      },
    ]);
    expect(await tenantEventCount(tenant.id)).toBe(before + 1);
  });

  it('the conversation settings: the greeting only as {changed, length}, voice, language and limit as values', async () => {
    const greeting = `Hello from Acme. Marker ${randomUUID()}.`;
    const created = trace();
    const response = await api('POST', `/api/tenants/${tenant.id}/ai-profiles`, {
      headers: created.headers,
      body: {
        name: 'Voice desk',
        role: 'support',
        system_prompt: 'Help.',
        greeting,
        voice: 'verse',
        language: 'en-in',
        max_duration_seconds: 90,
      },
    });
    expect(response.status).toBe(201);
    expect((await rowsOf(created.requestId))[0]?.changes).toEqual({
      name: 'Voice desk',
      role: 'support',
      system_prompt: { changed: true, length: 'Help.'.length },
      is_default: false,
      greeting: { changed: true, length: greeting.length },
      voice: 'verse',
      language: 'en-IN',
      max_duration_seconds: 90,
    });

    const changedGreeting = `Welcome back. Marker ${randomUUID()}.`;
    const updated = trace();
    await api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${response.body.id}`, {
      headers: updated.headers,
      body: { greeting: changedGreeting, language: 'HI-in', max_duration_seconds: 1800 },
    });
    expect((await rowsOf(updated.requestId))[0]?.changes).toEqual({
      greeting: { changed: true, length: changedGreeting.length },
      language: 'hi-IN',
      max_duration_seconds: 1800,
    });

    const cleared = trace();
    await api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${response.body.id}`, {
      headers: cleared.headers,
      body: { greeting: null, language: null, voice: 'ash' },
    });
    expect((await rowsOf(cleared.requestId))[0]?.changes).toEqual({ greeting: null, language: null, voice: 'ash' });
    for (const text of [greeting, changedGreeting, greeting.split(' ').at(-1) as string, changedGreeting.split(' ').at(-1) as string]) {
      expect(await auditRowsContaining(text)).toBe(0);
    }
  });

  it('issuing an API key: api_key.created with its name and expiry, never its secret', async () => {
    const before = await tenantEventCount(tenant.id);
    const t = trace();
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const response = await api('POST', `/api/tenants/${tenant.id}/api-keys`, {
      headers: t.headers,
      body: { name: 'CRM', expires_at: expiresAt },
    });
    expect(response.status).toBe(201);
    expect(await rowsOf(t.requestId)).toEqual([
      {
        tenant_id: tenant.id,
        actor_type: 'operator',
        actor_id: expect.stringMatching(OPERATOR_FINGERPRINT),
        action: 'api_key.created',
        resource_type: 'api_key',
        resource_id: response.body.id,
        changes: { name: 'CRM', expires_at: expiresAt },
        request_id: t.requestId,
        source_ip: t.ip,
      },
    ]);
    expect(await tenantEventCount(tenant.id)).toBe(before + 1);
  });

  it('revoking an API key: api_key.revoked; revoking it again changes nothing and records nothing', async () => {
    const key = await issueKey(tenant.id);
    const before = await tenantEventCount(tenant.id);
    const t = trace();
    expect((await api('DELETE', `/api/tenants/${tenant.id}/api-keys/${key.id}`, { headers: t.headers })).status).toBe(204);
    expect(await rowsOf(t.requestId)).toEqual([
      {
        tenant_id: tenant.id,
        actor_type: 'operator',
        actor_id: expect.stringMatching(OPERATOR_FINGERPRINT),
        action: 'api_key.revoked',
        resource_type: 'api_key',
        resource_id: key.id,
        changes: { revoked: true },
        request_id: t.requestId,
        source_ip: t.ip,
      },
    ]);
    const again = trace();
    expect((await api('DELETE', `/api/tenants/${tenant.id}/api-keys/${key.id}`, { headers: again.headers })).status).toBe(204);
    expect(await rowsOf(again.requestId)).toEqual([]);
    expect(await tenantEventCount(tenant.id)).toBe(before + 1);
  });

  it('records the request id the Worker chose when the client sent none, the one it answered with', async () => {
    const response = await api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${phoneNumber.id}`, { body: { is_active: true } });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id') as string;
    expect(requestId).toBeTruthy();
    expect((await rowsOf(requestId)).map((row) => row.action)).toEqual(['phone_number.updated']);
  });

  it('records the address the platform reports when the client sends no cf-connecting-ip of its own (loopback here)', async () => {
    const requestId = `audit-${randomUUID()}`;
    const response = await api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${phoneNumber.id}`, {
      headers: { 'x-request-id': requestId },
      body: { is_active: true },
    });
    expect(response.status).toBe(200);
    expect((await rowsOf(requestId)).map((row) => row.source_ip)).toEqual([expect.stringMatching(/^(127\.0\.0\.1|::1)$/)]);
  });
});

describe('the actor', () => {
  async function operatorActor(token: string): Promise<string> {
    const t = trace();
    const response = await api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${phoneNumber.id}`, {
      token,
      headers: t.headers,
      body: { is_active: true },
    });
    expect(response.status).toBe(200);
    const rows = await rowsOf(t.requestId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.actor_type).toBe('operator');
    return rows[0]?.actor_id as string;
  }

  it('an operator is a fingerprint of its token: the same for the same token, another for the other token', async () => {
    const oldFirst = await operatorActor(OLD_TOKEN);
    const oldSecond = await operatorActor(OLD_TOKEN);
    const newFirst = await operatorActor(NEW_TOKEN);
    expect(oldFirst).toMatch(OPERATOR_FINGERPRINT);
    expect(newFirst).toMatch(OPERATOR_FINGERPRINT);
    expect(oldSecond).toBe(oldFirst);
    expect(newFirst).not.toBe(oldFirst);
  });

  it('an operator token never appears in the log, in the actor or anywhere else', async () => {
    await operatorActor(OLD_TOKEN);
    await operatorActor(NEW_TOKEN);
    for (const token of OPERATOR_TOKENS) {
      expect(await auditRowsContaining(token)).toBe(0);
      // Nor its full SHA-256, which would let anyone test guesses offline.
      expect(await auditRowsContaining(createHash('sha256').update(token).digest('hex'))).toBe(0);
    }
  });

  it('a tenant API key is its key id', async () => {
    const key = await issueKey(tenant.id);

    const created = trace();
    const made = await api('POST', `/api/tenants/${tenant.id}/ai-profiles`, {
      token: key.key,
      headers: created.headers,
      body: { name: 'Night desk (key)', role: 'support', system_prompt: 'Take messages at night.' },
    });
    expect(made.status).toBe(201);
    const updated = trace();
    const patched = await api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${profile.id}`, {
      token: key.key,
      headers: updated.headers,
      body: { name: 'Front desk (key)' },
    });
    expect(patched.status).toBe(200);

    expect(await rowsOf(created.requestId)).toEqual([
      expect.objectContaining({ actor_type: 'api_key', actor_id: key.id, action: 'ai_profile.created', resource_id: made.body.id }),
    ]);
    expect(await rowsOf(updated.requestId)).toEqual([
      expect.objectContaining({
        actor_type: 'api_key',
        actor_id: key.id,
        action: 'ai_profile.updated',
        resource_id: profile.id,
        changes: { name: 'Front desk (key)' },
        request_id: updated.requestId,
        source_ip: updated.ip,
      }),
    ]);
  });
});

describe('what the log never holds', () => {
  it('an AI profile’s system prompt, created or changed, in any form', async () => {
    const created = `Created prompt ${randomUUID()}`;
    const changed = `Changed prompt ${randomUUID()}`;
    const own = await createAiProfile(tenant.id, { system_prompt: created });
    const response = await api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${own.id}`, { body: { system_prompt: changed, name: 'X' } });
    expect(response.status).toBe(200);

    const { rows } = await sql(`select action, changes from audit_events where resource_id = $1 order by created_at, id`, [own.id]);
    expect(rows).toEqual([
      { action: 'ai_profile.created', changes: expect.objectContaining({ system_prompt: { changed: true, length: created.length } }) },
      { action: 'ai_profile.updated', changes: { name: 'X', system_prompt: { changed: true, length: changed.length } } },
    ]);
    for (const text of [created, changed, created.split(' ').at(-1) as string, changed.split(' ').at(-1) as string]) {
      expect(await auditRowsContaining(text)).toBe(0);
    }
    const listed = await api('GET', `/api/tenants/${tenant.id}/audit-events?limit=100`);
    expect(listed.text).not.toContain(created);
    expect(listed.text).not.toContain(changed);
  });

  it('an API key’s secret or its hash, through its whole life (issued, used, revoked)', async () => {
    const key = await issueKey(tenant.id);
    expect(
      (await api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${profile.id}`, { token: key.key, body: { role: 'sales' } })).status,
    ).toBe(200);
    expect((await api('DELETE', `/api/tenants/${tenant.id}/api-keys/${key.id}`)).status).toBe(204);

    const { rows } = await sql('select count(*)::int as n from audit_events where resource_id = $1 or actor_id = $2', [key.id, key.id]);
    expect(rows[0].n).toBe(3);
    expect(await auditRowsContaining(key.key)).toBe(0);
    expect(await auditRowsContaining(key.key.slice('vca_'.length))).toBe(0);
    expect(await auditRowsContaining(createHash('sha256').update(key.key).digest('hex'))).toBe(0);
  });
});

describe('a failed mutation writes no audit row', () => {
  let duplicateDid: string;
  let otherKey: string;
  beforeAll(async () => {
    duplicateDid = (await createPhoneNumber((await createTenant()).id)).did_number;
    otherKey = (await issueKey(tenant.id)).key;
  });

  const cases: [string, string, () => string, () => unknown, number, string, (() => string | null)?][] = [
    ['POST', 'a tenant with a blank name', () => '/api/tenants', () => ({ name: '  ' }), 400, 'validation_failed'],
    ['PATCH', 'a tenant with nothing to change', () => `/api/tenants/${tenant.id}`, () => ({}), 400, 'validation_failed'],
    ['PATCH', 'a tenant with an unknown status', () => `/api/tenants/${tenant.id}`, () => ({ status: 'closed' }), 400, 'validation_failed'],
    ['PATCH', 'an unknown tenant', () => `/api/tenants/${randomUUID()}`, () => ({ plan: 'growth' }), 404, 'tenant_not_found'],
    ['POST', 'an invalid DID', () => `/api/tenants/${tenant.id}/phone-numbers`, () => ({ did_number: '12' }), 400, 'invalid_did'],
    [
      'POST',
      'a DID another tenant holds',
      () => `/api/tenants/${tenant.id}/phone-numbers`,
      () => ({ did_number: duplicateDid }),
      409,
      'did_already_registered',
    ],
    [
      'POST',
      'a DID this tenant holds, in national format',
      () => `/api/tenants/${tenant.id}/phone-numbers`,
      () => ({ did_number: `0${phoneNumber.did_number.slice(3)}` }),
      409,
      'did_already_registered',
    ],
    [
      'POST',
      'a number for an unknown tenant',
      () => `/api/tenants/${randomUUID()}/phone-numbers`,
      () => ({ did_number: randomDid() }),
      404,
      'tenant_not_found',
    ],
    [
      'PATCH',
      'an unknown phone number',
      () => `/api/tenants/${tenant.id}/phone-numbers/${randomUUID()}`,
      () => ({ is_active: false }),
      404,
      'phone_number_not_found',
    ],
    [
      'POST',
      'a profile without a prompt',
      () => `/api/tenants/${tenant.id}/ai-profiles`,
      () => ({ name: 'No prompt', role: 'sales' }),
      400,
      'validation_failed',
    ],
    [
      'PATCH',
      'an unknown profile made default',
      () => `/api/tenants/${tenant.id}/ai-profiles/${randomUUID()}`,
      () => ({ is_default: true }),
      404,
      'ai_profile_not_found',
    ],
    [
      'POST',
      'a key that expired already',
      () => `/api/tenants/${tenant.id}/api-keys`,
      () => ({ name: 'Late', expires_at: '2001-01-01T00:00:00Z' }),
      400,
      'validation_failed',
    ],
    ['DELETE', 'an unknown key', () => `/api/tenants/${tenant.id}/api-keys/${randomUUID()}`, () => undefined, 404, 'api_key_not_found'],
    [
      'POST',
      'a key issued by a tenant key',
      () => `/api/tenants/${tenant.id}/api-keys`,
      () => ({ name: 'Self-issued' }),
      403,
      'operator_only',
      () => otherKey,
    ],
    [
      'PATCH',
      'a phone number change without credentials',
      () => `/api/tenants/${tenant.id}/phone-numbers/${phoneNumber.id}`,
      () => ({ is_active: false }),
      401,
      'unauthorized',
      () => null,
    ],
  ];

  it.each(cases)('%s %s', async (method, _label, path, body, status, code, token) => {
    const before = await tenantEventCount(tenant.id);
    const defaultBefore = (await sql('select id from ai_profiles where tenant_id = $1 and is_default', [tenant.id])).rows;
    const t = trace();
    const response = await api(method, path(), { headers: t.headers, body: body(), ...(token ? { token: token() } : {}) });
    expectProblem(response, status, code);
    expect(await rowsOf(t.requestId)).toEqual([]);
    expect(await tenantEventCount(tenant.id)).toBe(before);
    // Nothing the failed request did inside its transaction survives (e.g. clearing the default profile).
    expect((await sql('select id from ai_profiles where tenant_id = $1 and is_default', [tenant.id])).rows).toEqual(defaultBefore);
  });
});

describe('GET /api/tenants/{id}/audit-events', () => {
  let own: { id: string };
  let other: { id: string };
  let otherNumber: { id: string };

  beforeAll(async () => {
    own = await createTenant();
    other = await createTenant();
    // Interleaved with another tenant's changes, which must not show up.
    const number = await createPhoneNumber(own.id);
    otherNumber = await createPhoneNumber(other.id);
    await api('PATCH', `/api/tenants/${own.id}/phone-numbers/${number.id}`, { body: { is_active: false } });
    await api('PATCH', `/api/tenants/${other.id}/phone-numbers/${otherNumber.id}`, { body: { is_active: false } });
    await createAiProfile(own.id);
    await api('PATCH', `/api/tenants/${own.id}`, { body: { plan: 'growth' } });
  });

  it('lists the tenant’s events newest first, in pages joined by next_cursor', async () => {
    const { rows } = await sql('select id, action from audit_events where tenant_id = $1 order by created_at desc, id desc', [own.id]);
    expect(rows.map((row) => row.action)).toEqual([
      'tenant.updated',
      'ai_profile.created',
      'phone_number.updated',
      'phone_number.created',
      'tenant.created',
    ]);

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await api('GET', `/api/tenants/${own.id}/audit-events${query}`);
      expect(page.status).toBe(200);
      pageSizes.push(page.body.data.length);
      seen.push(...page.body.data.map((event: { id: string }) => event.id));
      cursor = page.body.next_cursor;
    } while (cursor !== null && pageSizes.length < 10);
    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(rows.map((row) => row.id));
  });

  it('answers each event with who, what, when and from where', async () => {
    const t = trace('192.0.2.44');
    const number = await api('POST', `/api/tenants/${own.id}/phone-numbers`, { headers: t.headers, body: { did_number: randomDid() } });
    expect(number.status).toBe(201);
    const response = await api('GET', `/api/tenants/${own.id}/audit-events?limit=1`);
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        tenant_id: own.id,
        actor_type: 'operator',
        actor_id: expect.stringMatching(OPERATOR_FINGERPRINT),
        action: 'phone_number.created',
        resource_type: 'phone_number',
        resource_id: number.body.id,
        changes: { did_number: number.body.did_number, provider_type: 'generic', is_active: true },
        request_id: t.requestId,
        source_ip: '192.0.2.44',
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      },
    ]);
    expect(response.body.next_cursor).toEqual(expect.any(String));
  });

  it('lists only that tenant’s events', async () => {
    const response = await api('GET', `/api/tenants/${own.id}/audit-events?limit=100`);
    expect(response.status).toBe(200);
    expect(response.body.data.length).toBe(await tenantEventCount(own.id));
    for (const event of response.body.data) expect(event.tenant_id).toBe(own.id);
    expect(response.body.data.map((event: { resource_id: string }) => event.resource_id)).not.toContain(otherNumber.id);
    expect(response.body.data.map((event: { resource_id: string }) => event.resource_id)).not.toContain(other.id);
  });

  it('answers 404 for an unknown tenant and 400 for a forged cursor', async () => {
    expectProblem(await api('GET', `/api/tenants/${randomUUID()}/audit-events`), 404, 'tenant_not_found');
    expectProblem(await api('GET', `/api/tenants/${own.id}/audit-events?cursor=not-a-cursor`), 400, 'invalid_cursor');
  });

  it('a tenant key reads its own tenant’s events and gets 404 for another tenant’s', async () => {
    const key = await issueKey(own.id);
    const mine = await api('GET', `/api/tenants/${own.id}/audit-events?limit=100`, { token: key.key });
    expect(mine.status).toBe(200);
    expect(mine.body.data.length).toBe(await tenantEventCount(own.id));
    const theirs = await api('GET', `/api/tenants/${other.id}/audit-events`, { token: key.key });
    expectProblem(theirs, 404, 'tenant_not_found');
    expect(theirs.text).not.toContain(otherNumber.id);
  });

  it('is the operator’s view too, with either token', async () => {
    for (const token of [OPERATOR, OLD_TOKEN]) {
      const response = await api('GET', `/api/tenants/${own.id}/audit-events?limit=1`, { token });
      expect(response.status).toBe(200);
      expect(response.body.data).toHaveLength(1);
    }
  });
});
