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
    ['an unknown field', { ...validBody, temperature: 0.8 }, 'temperature'],
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

describe('the conversation settings: greeting, voice, language, max_duration_seconds', () => {
  it('defaults to no greeting, the alloy voice, no language and 600 seconds', async () => {
    const tenant = await createTenant();
    const response = await api('POST', profilesPath(tenant.id), { body: validBody });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ greeting: null, voice: 'alloy', language: null, max_duration_seconds: 600 });
    const { rows } = await sql('select greeting, voice, language, max_duration_seconds from ai_profiles where id = $1', [response.body.id]);
    expect(rows).toEqual([{ greeting: null, voice: 'alloy', language: null, max_duration_seconds: 600 }]);
  });

  it('takes them on create and returns them on GET and in the list, the language in canonical form', async () => {
    const tenant = await createTenant();
    const greeting = '  Namaste! Acme Dental — कैसे मदद करूँ? 👋 ';
    const response = await api('POST', profilesPath(tenant.id), {
      body: { ...validBody, greeting, voice: 'marin', language: 'HI-in', max_duration_seconds: 1200 },
    });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ greeting: greeting.trim(), voice: 'marin', language: 'hi-IN', max_duration_seconds: 1200 });
    expect(await getProfile(tenant.id, response.body.id)).toEqual(response.body);
    expect((await api('GET', profilesPath(tenant.id))).body.data).toEqual([response.body]);
  });

  it.each([
    ['en', 'en'],
    ['en-in', 'en-IN'],
    ['EN-GB', 'en-GB'],
    ['zh-hant-tw', 'zh-Hant-TW'],
    ['ta-IN', 'ta-IN'],
    ['sh', 'sr-Latn'],
  ])('stores the language %s as %s', async (given, stored) => {
    const tenant = await createTenant();
    const profile = await createAiProfile(tenant.id, { language: given });
    expect((await getProfile(tenant.id, profile.id)).language).toBe(stored);
  });

  it('changes each of them with PATCH, and clears greeting and language with null', async () => {
    const tenant = await createTenant();
    const profile = await createAiProfile(tenant.id, { greeting: 'Hello.', language: 'en' });
    const path = `${profilesPath(tenant.id)}/${profile.id}`;

    expect((await api('PATCH', path, { body: { greeting: 'Good morning, Acme.' } })).body).toMatchObject({
      greeting: 'Good morning, Acme.',
      language: 'en',
    });
    expect((await api('PATCH', path, { body: { voice: 'cedar', max_duration_seconds: 30 } })).body).toMatchObject({
      voice: 'cedar',
      max_duration_seconds: 30,
      greeting: 'Good morning, Acme.',
    });
    expect((await api('PATCH', path, { body: { language: 'mr-in' } })).body.language).toBe('mr-IN');
    const cleared = await api('PATCH', path, { body: { greeting: null, language: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ greeting: null, language: null, voice: 'cedar', max_duration_seconds: 30, name: 'Front desk' });
    expect(await getProfile(tenant.id, profile.id)).toEqual(cleared.body);
  });

  it('accepts the limits of max_duration_seconds and a greeting of exactly 1000 characters', async () => {
    const tenant = await createTenant();
    expect((await createAiProfile(tenant.id, { max_duration_seconds: 30 })).is_default).toBe(false);
    const longest = await createAiProfile(tenant.id, { max_duration_seconds: 3600, greeting: 'g'.repeat(1000) });
    expect(await getProfile(tenant.id, longest.id)).toMatchObject({ max_duration_seconds: 3600, greeting: 'g'.repeat(1000) });
  });

  it.each([
    ['an empty greeting', { greeting: '' }, 'greeting'],
    ['a whitespace-only greeting', { greeting: '  \n ' }, 'greeting'],
    ['a greeting over 1000 characters', { greeting: 'g'.repeat(1001) }, 'greeting'],
    ['a greeting with a NUL character', { greeting: 'Hi\u0000' }, 'greeting'],
    ['a greeting that is not a string', { greeting: 42 }, 'greeting'],
    ['an empty voice', { voice: '' }, 'voice'],
    ['a voice in capitals', { voice: 'Alloy' }, 'voice'],
    ['a voice with a space', { voice: 'al loy' }, 'voice'],
    ['a voice over 32 characters', { voice: 'v'.repeat(33) }, 'voice'],
    ['a null voice', { voice: null }, 'voice'],
    ['a language that is not a BCP 47 tag', { language: 'english' }, 'language'],
    ['a language with an underscore', { language: 'en_IN' }, 'language'],
    ['an empty language', { language: '' }, 'language'],
    ['a language over 35 characters', { language: `en-${'a'.repeat(40)}` }, 'language'],
    ['a language that is not a string', { language: ['en'] }, 'language'],
    ['max_duration_seconds under 30', { max_duration_seconds: 29 }, 'max_duration_seconds'],
    ['max_duration_seconds over 3600', { max_duration_seconds: 3601 }, 'max_duration_seconds'],
    ['a fractional max_duration_seconds', { max_duration_seconds: 60.5 }, 'max_duration_seconds'],
    ['max_duration_seconds as a string', { max_duration_seconds: '600' }, 'max_duration_seconds'],
    ['a null max_duration_seconds', { max_duration_seconds: null }, 'max_duration_seconds'],
  ])('rejects %s with 400 validation_failed naming the field, on create and on PATCH, changing nothing', async (_label, fields, path) => {
    const tenant = await createTenant();
    const created = await api('POST', profilesPath(tenant.id), { body: { ...validBody, ...fields } });
    expect(expectProblem(created, 400, 'validation_failed').errors?.map((e) => e.path)).toContain(path);
    expect(await rowCount(tenant.id)).toBe(0);

    const profile = await createAiProfile(tenant.id, { greeting: 'Hello.', language: 'en-IN', voice: 'sage', max_duration_seconds: 120 });
    const before = await getProfile(tenant.id, profile.id);
    const patched = await api('PATCH', `${profilesPath(tenant.id)}/${profile.id}`, { body: fields });
    expect(expectProblem(patched, 400, 'validation_failed').errors?.map((e) => e.path)).toContain(path);
    expect(await getProfile(tenant.id, profile.id)).toEqual(before);
  });

  it('documents them in the OpenAPI document, with their limits', async () => {
    const spec = await api('GET', '/openapi.json', { token: null });
    const schemas = spec.body.components.schemas;
    for (const name of ['CreateAiProfile', 'UpdateAiProfile']) {
      const properties = schemas[name].properties;
      expect(properties.greeting).toMatchObject({ maxLength: 1000, description: expect.any(String) });
      expect(properties.voice).toMatchObject({ pattern: '^[a-z0-9_-]{1,32}$', example: 'alloy' });
      expect(properties.language).toMatchObject({ maxLength: 35, example: 'en-IN' });
      expect(properties.max_duration_seconds).toMatchObject({ type: 'integer', minimum: 30, maximum: 3600 });
    }
    expect(Object.keys(schemas.AiProfile.properties)).toEqual(
      expect.arrayContaining(['greeting', 'voice', 'language', 'max_duration_seconds']),
    );
  });
});
