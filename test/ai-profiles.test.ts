import { describe, expect, it } from 'vitest';
import { api, createAiProfile, createTenant, expectProblem, sql } from './support/api.ts';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const profilesPath = (tenantId: string) => `/api/tenants/${tenantId}/ai-profiles`;

const validBody = { name: 'Front desk', role: 'receptionist', system_prompt: 'You are a helpful receptionist.' };

async function rowCount(tenantId: string) {
  const { rows } = await sql<{ n: number }>('select count(*)::int as n from ai_profiles where tenant_id = $1', [tenantId]);
  return rows[0]?.n;
}

/** The ids of the tenant's profiles with is_default = true, straight from the database. */
async function defaultIds(tenantId: string) {
  const { rows } = await sql<{ id: string }>('select id from ai_profiles where tenant_id = $1 and is_default order by id', [tenantId]);
  return rows.map((row) => row.id);
}

async function getProfile(tenantId: string, id: string) {
  const response = await api('GET', `${profilesPath(tenantId)}/${id}`);
  expect(response.status).toBe(200);
  return response.body;
}

describe('POST /api/tenants/{id}/ai-profiles', () => {
  it('creates a profile, not the default unless asked, and answers 201 with its Location', async () => {
    const tenant = await createTenant();
    const response = await api('POST', profilesPath(tenant.id), {
      body: { name: '  Front desk  ', role: 'receptionist', system_prompt: 'You are the receptionist of Acme Dental.' },
    });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      tenant_id: tenant.id,
      name: 'Front desk',
      role: 'receptionist',
      system_prompt: 'You are the receptionist of Acme Dental.',
      is_default: false,
    });
    expect(response.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(response.body.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(response.headers.get('location')).toBe(`${profilesPath(tenant.id)}/${response.body.id}`);

    const fetched = await api('GET', response.headers.get('location') ?? '');
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(response.body);

    const { rows } = await sql('select name, role::text as role, is_default from ai_profiles where tenant_id = $1', [tenant.id]);
    expect(rows).toEqual([{ name: 'Front desk', role: 'receptionist', is_default: false }]);
  });

  it('makes the first profile the default when is_default is true', async () => {
    const tenant = await createTenant();
    const profile = await createAiProfile(tenant.id, { is_default: true });
    expect(profile.is_default).toBe(true);
    expect(await defaultIds(tenant.id)).toEqual([profile.id]);
  });

  it.each(['receptionist', 'sales', 'support', 'dispatcher', 'custom'])('accepts the role %s', async (role) => {
    const tenant = await createTenant();
    const response = await api('POST', profilesPath(tenant.id), { body: { ...validBody, role } });
    expect(response.status).toBe(201);
    expect(response.body.role).toBe(role);
    expect((await getProfile(tenant.id, response.body.id)).role).toBe(role);
  });

  it.each([
    ['a missing system_prompt', { name: 'x', role: 'sales' }, 'system_prompt'],
    ['an empty system_prompt', { ...validBody, system_prompt: '' }, 'system_prompt'],
    ['a whitespace-only system_prompt', { ...validBody, system_prompt: ' \n\t  ' }, 'system_prompt'],
    ['a system_prompt that is not a string', { ...validBody, system_prompt: 42 }, 'system_prompt'],
    ['a missing name', { role: 'sales', system_prompt: 'Sell.' }, 'name'],
    ['an empty name', { ...validBody, name: '   ' }, 'name'],
    ['a missing role', { name: 'x', system_prompt: 'Help.' }, 'role'],
    ['an unknown role', { ...validBody, role: 'janitor' }, 'role'],
    ['a role in the wrong case', { ...validBody, role: 'Sales' }, 'role'],
    ['a non-boolean is_default', { ...validBody, is_default: 'yes' }, 'is_default'],
    ['an unknown field', { ...validBody, voice: 'alloy' }, 'voice'],
  ])('rejects %s with 400 validation_failed naming the field, and creates nothing', async (_label, body, path) => {
    const tenant = await createTenant();
    const response = await api('POST', profilesPath(tenant.id), { body });
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    expect(await rowCount(tenant.id)).toBe(0);
  });

  it('answers 404 tenant_not_found for an unknown or non-UUID tenant', async () => {
    expectProblem(await api('POST', profilesPath(UNKNOWN_ID), { body: validBody }), 404, 'tenant_not_found');
    expectProblem(await api('POST', profilesPath('not-a-uuid'), { body: validBody }), 404, 'tenant_not_found');
    expect(await rowCount(UNKNOWN_ID)).toBe(0);
  });
});

describe('the default profile', () => {
  it('moves to a newly created profile with is_default true, leaving exactly one default', async () => {
    const tenant = await createTenant();
    const first = await createAiProfile(tenant.id, { is_default: true });
    const second = await createAiProfile(tenant.id, { name: 'Sales', role: 'sales', is_default: true });

    expect(second.is_default).toBe(true);
    expect((await getProfile(tenant.id, first.id)).is_default).toBe(false);
    expect((await getProfile(tenant.id, second.id)).is_default).toBe(true);
    expect(await defaultIds(tenant.id)).toEqual([second.id]);
  });

  it('stays where it is when a profile is created without is_default', async () => {
    const tenant = await createTenant();
    const first = await createAiProfile(tenant.id, { is_default: true });
    const second = await createAiProfile(tenant.id, { is_default: false });
    expect(second.is_default).toBe(false);
    expect(await defaultIds(tenant.id)).toEqual([first.id]);
  });

  it('switches to another profile with PATCH is_default true', async () => {
    const tenant = await createTenant();
    const first = await createAiProfile(tenant.id, { is_default: true });
    const second = await createAiProfile(tenant.id, { name: 'Support', role: 'support' });

    const response = await api('PATCH', `${profilesPath(tenant.id)}/${second.id}`, { body: { is_default: true } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: second.id, is_default: true, name: 'Support' });
    expect((await getProfile(tenant.id, first.id)).is_default).toBe(false);
    expect((await getProfile(tenant.id, second.id)).is_default).toBe(true);
    expect(await defaultIds(tenant.id)).toEqual([second.id]);
  });

  it('is unchanged by PATCH is_default true on the profile that already is the default', async () => {
    const tenant = await createTenant();
    const first = await createAiProfile(tenant.id, { is_default: true });
    await createAiProfile(tenant.id);
    const response = await api('PATCH', `${profilesPath(tenant.id)}/${first.id}`, { body: { is_default: true } });
    expect(response.status).toBe(200);
    expect(response.body.is_default).toBe(true);
    expect(await defaultIds(tenant.id)).toEqual([first.id]);
  });

  it('is gone after PATCH is_default false on the default: the tenant has no default', async () => {
    const tenant = await createTenant();
    const first = await createAiProfile(tenant.id, { is_default: true });
    const second = await createAiProfile(tenant.id);

    const response = await api('PATCH', `${profilesPath(tenant.id)}/${first.id}`, { body: { is_default: false } });
    expect(response.status).toBe(200);
    expect(response.body.is_default).toBe(false);
    expect((await getProfile(tenant.id, first.id)).is_default).toBe(false);
    expect((await getProfile(tenant.id, second.id)).is_default).toBe(false);
    expect(await defaultIds(tenant.id)).toEqual([]);
  });

  it('is never taken from another tenant', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const theirs = await createAiProfile(other.id, { is_default: true });
    const mine = await createAiProfile(tenant.id, { is_default: true });
    const second = await createAiProfile(tenant.id);
    await api('PATCH', `${profilesPath(tenant.id)}/${second.id}`, { body: { is_default: true } });

    expect(await defaultIds(other.id)).toEqual([theirs.id]);
    expect(await defaultIds(tenant.id)).toEqual([second.id]);
    expect((await getProfile(tenant.id, mine.id)).is_default).toBe(false);
  });

  it('stays on the existing default when PATCH is_default true names a profile that does not exist (404, rolled back)', async () => {
    const tenant = await createTenant();
    const current = await createAiProfile(tenant.id, { is_default: true });

    const response = await api('PATCH', `${profilesPath(tenant.id)}/${UNKNOWN_ID}`, { body: { is_default: true } });
    expectProblem(response, 404, 'ai_profile_not_found');

    expect((await getProfile(tenant.id, current.id)).is_default).toBe(true);
    expect(await defaultIds(tenant.id)).toEqual([current.id]);
  });

  it('stays on the existing default when PATCH is_default true names another tenant’s profile (404, rolled back)', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const current = await createAiProfile(tenant.id, { is_default: true });
    const theirs = await createAiProfile(other.id, { is_default: true });

    const response = await api('PATCH', `${profilesPath(tenant.id)}/${theirs.id}`, { body: { is_default: true } });
    expectProblem(response, 404, 'ai_profile_not_found');

    expect(await defaultIds(tenant.id)).toEqual([current.id]);
    expect(await defaultIds(other.id)).toEqual([theirs.id]);
  });
});

describe('PATCH /api/tenants/{id}/ai-profiles/{ai_profile_id}', () => {
  it('updates name, role and system_prompt, separately and together', async () => {
    const tenant = await createTenant();
    const profile = await createAiProfile(tenant.id);
    const path = `${profilesPath(tenant.id)}/${profile.id}`;

    const renamed = await api('PATCH', path, { body: { name: '  Night desk ' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Night desk', role: 'receptionist', system_prompt: 'You are a helpful receptionist.' });

    const reroled = await api('PATCH', path, { body: { role: 'dispatcher' } });
    expect(reroled.status).toBe(200);
    expect(reroled.body).toMatchObject({ name: 'Night desk', role: 'dispatcher' });

    const reprompted = await api('PATCH', path, { body: { system_prompt: 'Dispatch technicians.' } });
    expect(reprompted.status).toBe(200);
    expect(reprompted.body).toMatchObject({ name: 'Night desk', role: 'dispatcher', system_prompt: 'Dispatch technicians.' });

    const all = await api('PATCH', path, { body: { name: 'Sales line', role: 'sales', system_prompt: 'Sell politely.' } });
    expect(all.status).toBe(200);

    const fetched = await getProfile(tenant.id, profile.id);
    expect(fetched).toMatchObject({
      id: profile.id,
      name: 'Sales line',
      role: 'sales',
      system_prompt: 'Sell politely.',
      is_default: false,
    });
    expect(Date.parse(fetched.updated_at)).toBeGreaterThanOrEqual(Date.parse(fetched.created_at));
  });

  it('leaves is_default alone when other fields change', async () => {
    const tenant = await createTenant();
    const profile = await createAiProfile(tenant.id, { is_default: true });
    const response = await api('PATCH', `${profilesPath(tenant.id)}/${profile.id}`, { body: { name: 'Renamed' } });
    expect(response.status).toBe(200);
    expect(response.body.is_default).toBe(true);
    expect(await defaultIds(tenant.id)).toEqual([profile.id]);
  });

  it.each([
    ['an empty body', {}, ''],
    ['an empty system_prompt', { system_prompt: '' }, 'system_prompt'],
    ['a whitespace-only system_prompt', { system_prompt: '   ' }, 'system_prompt'],
    ['an empty name', { name: '' }, 'name'],
    ['an unknown role', { role: 'janitor' }, 'role'],
    ['a null is_default', { is_default: null }, 'is_default'],
    ['an unknown field', { name: 'ok', tenant_id: UNKNOWN_ID }, 'tenant_id'],
  ])('rejects %s with 400 validation_failed and changes nothing', async (_label, body, path) => {
    const tenant = await createTenant();
    const profile = await createAiProfile(tenant.id, { is_default: true });
    const response = await api('PATCH', `${profilesPath(tenant.id)}/${profile.id}`, { body });
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    expect(await getProfile(tenant.id, profile.id)).toEqual(profile);
  });

  it('answers 404 for an unknown id, a non-UUID id, another tenant’s profile and an unknown tenant, changing nothing', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const theirs = await createAiProfile(other.id);
    const body = { body: { name: 'Hijacked' } };
    expectProblem(await api('PATCH', `${profilesPath(tenant.id)}/${UNKNOWN_ID}`, body), 404, 'ai_profile_not_found');
    expectProblem(await api('PATCH', `${profilesPath(tenant.id)}/not-a-uuid`, body), 404, 'ai_profile_not_found');
    expectProblem(await api('PATCH', `${profilesPath(tenant.id)}/${theirs.id}`, body), 404, 'ai_profile_not_found');
    expectProblem(await api('PATCH', `${profilesPath(UNKNOWN_ID)}/${theirs.id}`, body), 404, 'tenant_not_found');
    expect((await getProfile(other.id, theirs.id)).name).toBe(theirs.name);
  });
});

describe('GET /api/tenants/{id}/ai-profiles', () => {
  it('lists only the tenant’s profiles, newest first, paging with limit=2 through all of them exactly once', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    await createAiProfile(other.id);
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await createAiProfile(tenant.id, { name: `Profile ${i}` }));

    const seen: { id: string }[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api('GET', `${profilesPath(tenant.id)}${query}`);
      expect(page.status).toBe(200);
      pageSizes.push(page.body.data.length);
      seen.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor && pageSizes.length < 10);

    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual([...created].reverse());

    const all = await api('GET', profilesPath(tenant.id));
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.data.map((p: { id: string }) => p.id)).toEqual(created.map((p) => p.id).reverse());
  });

  it('returns an empty page for a tenant without profiles', async () => {
    const tenant = await createTenant();
    const response = await api('GET', profilesPath(tenant.id));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ data: [], next_cursor: null });
  });

  it('rejects a cursor it did not issue and a limit out of range', async () => {
    const tenant = await createTenant();
    expectProblem(await api('GET', `${profilesPath(tenant.id)}?cursor=garbage`), 400, 'invalid_cursor');
    expectProblem(await api('GET', `${profilesPath(tenant.id)}?limit=0`), 400, 'validation_failed');
    expectProblem(await api('GET', `${profilesPath(tenant.id)}?limit=101`), 400, 'validation_failed');
  });

  it('answers 404 tenant_not_found for an unknown or non-UUID tenant', async () => {
    expectProblem(await api('GET', profilesPath(UNKNOWN_ID)), 404, 'tenant_not_found');
    expectProblem(await api('GET', profilesPath('not-a-uuid')), 404, 'tenant_not_found');
  });
});

describe('GET /api/tenants/{id}/ai-profiles/{ai_profile_id}', () => {
  it('returns the profile', async () => {
    const tenant = await createTenant();
    const profile = await createAiProfile(tenant.id, { role: 'support', is_default: true });
    const response = await api('GET', `${profilesPath(tenant.id)}/${profile.id}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(profile);
  });

  it('answers 404 for an unknown id, a non-UUID id, another tenant’s profile and an unknown tenant', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const theirs = await createAiProfile(other.id, { system_prompt: 'Secret instructions of the other tenant.' });
    expectProblem(await api('GET', `${profilesPath(tenant.id)}/${UNKNOWN_ID}`), 404, 'ai_profile_not_found');
    expectProblem(await api('GET', `${profilesPath(tenant.id)}/not-a-uuid`), 404, 'ai_profile_not_found');
    const crossTenant = await api('GET', `${profilesPath(tenant.id)}/${theirs.id}`);
    expectProblem(crossTenant, 404, 'ai_profile_not_found');
    expect(crossTenant.text).not.toContain('Secret instructions');
    expectProblem(await api('GET', `${profilesPath(UNKNOWN_ID)}/${theirs.id}`), 404, 'tenant_not_found');
  });
});
