import { describe, expect, it } from 'vitest';
import { api, createPhoneNumber, createTenant, expectProblem, randomDid, sql } from './support/api.ts';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const numbersPath = (tenantId: string) => `/api/tenants/${tenantId}/phone-numbers`;

/** `+919876543210` → `09876543210`: the same number written in Indian national format. */
const national = (e164: string) => `0${e164.slice(3)}`;

async function rowCount(tenantId: string) {
  const { rows } = await sql<{ n: number }>('select count(*)::int as n from phone_numbers where tenant_id = $1', [tenantId]);
  return rows[0]?.n;
}

async function rowsForDid(did: string) {
  const { rows } = await sql<{ tenant_id: string }>('select tenant_id from phone_numbers where did_number = $1', [did]);
  return rows;
}

describe('POST /api/tenants/{id}/phone-numbers', () => {
  it('stores an E.164 number as is and answers 201 with its Location and the defaults', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const response = await api('POST', numbersPath(tenant.id), { body: { did_number: did } });

    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ tenant_id: tenant.id, did_number: did, provider_type: 'generic', is_active: true });
    expect(response.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(response.body.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(response.headers.get('location')).toBe(`${numbersPath(tenant.id)}/${response.body.id}`);

    const { rows } = await sql('select tenant_id, did_number, provider_type, is_active from phone_numbers where id = $1', [
      response.body.id,
    ]);
    expect(rows).toEqual([{ tenant_id: tenant.id, did_number: did, provider_type: 'generic', is_active: true }]);

    const fetched = await api('GET', response.headers.get('location') ?? '');
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(response.body);
  });

  it('reads a national number (0 + 10 digits) with the default country and stores it as +91…', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const response = await api('POST', numbersPath(tenant.id), { body: { did_number: national(did) } });
    expect(response.status).toBe(201);
    expect(response.body.did_number).toBe(did);
    expect(await rowsForDid(did)).toEqual([{ tenant_id: tenant.id }]);
  });

  it.each([
    ['spaces', (d: string) => `+91 ${d.slice(3, 8)} ${d.slice(8)}`],
    ['dashes', (d: string) => `+91-${d.slice(3, 8)}-${d.slice(8)}`],
    ['parentheses and spaces', (d: string) => `+91 (${d.slice(3, 8)}) ${d.slice(8)}`],
    ['national format with dashes', (d: string) => `0${d.slice(3, 6)}-${d.slice(6, 9)}-${d.slice(9)}`],
    ['national format with parentheses', (d: string) => `(0${d.slice(3, 8)}) ${d.slice(8)}`],
  ])('accepts a number written with %s and stores it normalised to E.164', async (_label, format) => {
    const tenant = await createTenant();
    const did = randomDid();
    const written = format(did);
    expect(written).not.toBe(did);
    const response = await api('POST', numbersPath(tenant.id), { body: { did_number: written } });
    expect(response.status).toBe(201);
    expect(response.body.did_number).toBe(did);
    expect(await rowsForDid(did)).toEqual([{ tenant_id: tenant.id }]);
  });

  it('creates an inactive number when asked to, and accepts an explicit generic provider', async () => {
    const tenant = await createTenant();
    const response = await api('POST', numbersPath(tenant.id), {
      body: { did_number: randomDid(), is_active: false, provider_type: 'generic' },
    });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ is_active: false, provider_type: 'generic' });
    const { rows } = await sql('select is_active from phone_numbers where id = $1', [response.body.id]);
    expect(rows).toEqual([{ is_active: false }]);
  });

  describe('a DID that is already registered is 409 did_already_registered', () => {
    it('for the same tenant', async () => {
      const tenant = await createTenant();
      const existing = await createPhoneNumber(tenant.id);
      const again = await api('POST', numbersPath(tenant.id), { body: { did_number: existing.did_number } });
      expectProblem(again, 409, 'did_already_registered');
      expect(await rowsForDid(existing.did_number)).toEqual([{ tenant_id: tenant.id }]);
    });

    it('for another tenant, without revealing which tenant holds it', async () => {
      const owner = await createTenant();
      const other = await createTenant();
      const existing = await createPhoneNumber(owner.id);
      const response = await api('POST', numbersPath(other.id), { body: { did_number: existing.did_number } });
      expectProblem(response, 409, 'did_already_registered');
      expect(response.text).not.toContain(owner.id);
      expect(response.text).not.toContain(owner.name);
      expect(await rowsForDid(existing.did_number)).toEqual([{ tenant_id: owner.id }]);
      expect(await rowCount(other.id)).toBe(0);
    });

    it('across formats: national after E.164 and E.164 after national', async () => {
      const owner = await createTenant();
      const other = await createTenant();

      const first = randomDid();
      await createPhoneNumber(owner.id, { did_number: first });
      const asNational = await api('POST', numbersPath(other.id), { body: { did_number: national(first) } });
      expectProblem(asNational, 409, 'did_already_registered');
      expect(asNational.text).not.toContain(owner.id);
      const asNationalSameTenant = await api('POST', numbersPath(owner.id), { body: { did_number: national(first) } });
      expectProblem(asNationalSameTenant, 409, 'did_already_registered');

      const second = randomDid();
      await createPhoneNumber(owner.id, { did_number: national(second) });
      const asE164 = await api('POST', numbersPath(other.id), { body: { did_number: second } });
      expectProblem(asE164, 409, 'did_already_registered');
      expect(asE164.text).not.toContain(owner.id);

      expect(await rowsForDid(first)).toEqual([{ tenant_id: owner.id }]);
      expect(await rowsForDid(second)).toEqual([{ tenant_id: owner.id }]);
      expect(await rowCount(other.id)).toBe(0);
    });
  });

  describe('an invalid number is 400 and creates nothing', () => {
    it.each([
      ['letters', 'abcdefghij'],
      ['too short', '12345'],
      ['an empty string', ''],
      ['only spaces', '   '],
      ['a well-formed number libphonenumber rejects (+1 555…)', '+15550000000'],
      ['an Indian number libphonenumber rejects', '+910000000000'],
      ['text with a number inside', 'call +919876543210 now'],
      ['too many digits', '+9198765432101234'],
    ])('%s (%j)', async (_label, did_number) => {
      const tenant = await createTenant();
      const response = await api('POST', numbersPath(tenant.id), { body: { did_number } });
      expect(['invalid_did', 'validation_failed']).toContain(response.body?.code);
      const problem = expectProblem(response, 400, response.body.code);
      expect(problem.errors?.map((e) => e.path)).toContain('did_number');
      expect(await rowCount(tenant.id)).toBe(0);
    });

    it('the JSON number 919876543210 instead of a string', async () => {
      const tenant = await createTenant();
      const response = await api('POST', numbersPath(tenant.id), { body: { did_number: 919876543210 } });
      const problem = expectProblem(response, 400, 'validation_failed');
      expect(problem.errors?.map((e) => e.path)).toContain('did_number');
      expect(await rowCount(tenant.id)).toBe(0);
    });

    it('a missing did_number', async () => {
      const tenant = await createTenant();
      const response = await api('POST', numbersPath(tenant.id), { body: { is_active: true } });
      const problem = expectProblem(response, 400, 'validation_failed');
      expect(problem.errors?.map((e) => e.path)).toContain('did_number');
      expect(await rowCount(tenant.id)).toBe(0);
    });
  });

  it.each([
    [{ provider_type: 'tata' }, 'provider_type'],
    [{ provider_type: '' }, 'provider_type'],
    [{ is_active: 'yes' }, 'is_active'],
    [{ label: 'main line' }, 'label'],
    [{ tenant_id: UNKNOWN_ID }, 'tenant_id'],
  ])('rejects %j with 400 validation_failed naming %s, and creates nothing', async (extra, path) => {
    const tenant = await createTenant();
    const did = randomDid();
    const response = await api('POST', numbersPath(tenant.id), { body: { did_number: did, ...extra } });
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    expect(await rowCount(tenant.id)).toBe(0);
    expect(await rowsForDid(did)).toEqual([]);
  });

  it('answers 404 tenant_not_found for an unknown or non-UUID tenant, and creates nothing', async () => {
    const did = randomDid();
    expectProblem(await api('POST', numbersPath(UNKNOWN_ID), { body: { did_number: did } }), 404, 'tenant_not_found');
    expectProblem(await api('POST', numbersPath('not-a-uuid'), { body: { did_number: did } }), 404, 'tenant_not_found');
    expect(await rowsForDid(did)).toEqual([]);
  });
});

describe('GET /api/tenants/{id}/phone-numbers', () => {
  it('lists only the tenant’s numbers, newest first', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    await createPhoneNumber(other.id);
    const created = [];
    for (let i = 0; i < 3; i++) created.push(await createPhoneNumber(tenant.id));

    const response = await api('GET', numbersPath(tenant.id));
    expect(response.status).toBe(200);
    expect(response.body.next_cursor).toBeNull();
    expect(response.body.data.map((n: { id: string }) => n.id)).toEqual(created.map((n) => n.id).reverse());
    expect(response.body.data[0]).toEqual(created[2]);
  });

  it('filters on ?is_active=true and ?is_active=false', async () => {
    const tenant = await createTenant();
    const active = await createPhoneNumber(tenant.id);
    const inactive = await createPhoneNumber(tenant.id, { is_active: false });
    const active2 = await createPhoneNumber(tenant.id, { is_active: true });

    const onlyActive = await api('GET', `${numbersPath(tenant.id)}?is_active=true`);
    expect(onlyActive.status).toBe(200);
    expect(onlyActive.body.data.map((n: { id: string }) => n.id)).toEqual([active2.id, active.id]);

    const onlyInactive = await api('GET', `${numbersPath(tenant.id)}?is_active=false`);
    expect(onlyInactive.status).toBe(200);
    expect(onlyInactive.body.data.map((n: { id: string }) => n.id)).toEqual([inactive.id]);
    expect(onlyInactive.body.data[0].is_active).toBe(false);
  });

  it('rejects ?is_active=maybe with 400 validation_failed', async () => {
    const tenant = await createTenant();
    const problem = expectProblem(await api('GET', `${numbersPath(tenant.id)}?is_active=maybe`), 400, 'validation_failed');
    expect(problem.errors?.map((e) => e.path)).toContain('is_active');
  });

  it('pages through 5 numbers with limit=2, returning each exactly once in order', async () => {
    const tenant = await createTenant();
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await createPhoneNumber(tenant.id));

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api('GET', `${numbersPath(tenant.id)}${query}`);
      expect(page.status).toBe(200);
      pageSizes.push(page.body.data.length);
      for (const number of page.body.data) seen.push(number.id);
      cursor = page.body.next_cursor;
    } while (cursor && pageSizes.length < 10);

    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(created.map((n) => n.id).reverse());
  });

  it('rejects a cursor it did not issue and a limit out of range', async () => {
    const tenant = await createTenant();
    expectProblem(await api('GET', `${numbersPath(tenant.id)}?cursor=garbage`), 400, 'invalid_cursor');
    expectProblem(await api('GET', `${numbersPath(tenant.id)}?limit=0`), 400, 'validation_failed');
    expectProblem(await api('GET', `${numbersPath(tenant.id)}?limit=101`), 400, 'validation_failed');
  });

  it('answers 404 tenant_not_found for an unknown or non-UUID tenant', async () => {
    expectProblem(await api('GET', numbersPath(UNKNOWN_ID)), 404, 'tenant_not_found');
    expectProblem(await api('GET', numbersPath('not-a-uuid')), 404, 'tenant_not_found');
  });
});

describe('GET /api/tenants/{id}/phone-numbers/{phone_number_id}', () => {
  it('returns the number', async () => {
    const tenant = await createTenant();
    const created = await createPhoneNumber(tenant.id, { is_active: false });
    const response = await api('GET', `${numbersPath(tenant.id)}/${created.id}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(created);
  });

  it('answers 404 phone_number_not_found for an unknown id, a non-UUID id, and another tenant’s number', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const theirs = await createPhoneNumber(other.id);
    expectProblem(await api('GET', `${numbersPath(tenant.id)}/${UNKNOWN_ID}`), 404, 'phone_number_not_found');
    expectProblem(await api('GET', `${numbersPath(tenant.id)}/not-a-uuid`), 404, 'phone_number_not_found');
    const crossTenant = await api('GET', `${numbersPath(tenant.id)}/${theirs.id}`);
    expectProblem(crossTenant, 404, 'phone_number_not_found');
    expect(crossTenant.text).not.toContain(theirs.did_number);
  });

  it('answers 404 tenant_not_found when the tenant is unknown', async () => {
    const tenant = await createTenant();
    const mine = await createPhoneNumber(tenant.id);
    expectProblem(await api('GET', `${numbersPath(UNKNOWN_ID)}/${mine.id}`), 404, 'tenant_not_found');
  });
});

describe('PATCH /api/tenants/{id}/phone-numbers/{phone_number_id}', () => {
  it('deactivates and reactivates a number', async () => {
    const tenant = await createTenant();
    const created = await createPhoneNumber(tenant.id);
    const path = `${numbersPath(tenant.id)}/${created.id}`;

    const off = await api('PATCH', path, { body: { is_active: false } });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ id: created.id, did_number: created.did_number, is_active: false });
    expect((await api('GET', path)).body.is_active).toBe(false);
    expect((await sql('select is_active from phone_numbers where id = $1', [created.id])).rows).toEqual([{ is_active: false }]);

    const on = await api('PATCH', path, { body: { is_active: true } });
    expect(on.status).toBe(200);
    expect(on.body.is_active).toBe(true);
    const fetched = await api('GET', path);
    expect(fetched.body).toMatchObject({ is_active: true, did_number: created.did_number, provider_type: 'generic' });
    expect(Date.parse(fetched.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(fetched.body.created_at));
  });

  it.each([
    [{ did_number: '+919000000001' }, 'did_number'],
    [{ did_number: '+919000000001', is_active: false }, 'did_number'],
    [{ provider_type: 'generic' }, 'provider_type'],
    [{ provider_type: 'generic', is_active: false }, 'provider_type'],
    [{ is_active: 'false' }, 'is_active'],
  ])('rejects %j with 400 validation_failed naming %s and changes nothing', async (body, path) => {
    const tenant = await createTenant();
    const created = await createPhoneNumber(tenant.id);
    const response = await api('PATCH', `${numbersPath(tenant.id)}/${created.id}`, { body });
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    const after = await api('GET', `${numbersPath(tenant.id)}/${created.id}`);
    expect(after.body).toEqual(created);
  });

  it('rejects an empty body with 400 validation_failed and changes nothing', async () => {
    const tenant = await createTenant();
    const created = await createPhoneNumber(tenant.id);
    const response = await api('PATCH', `${numbersPath(tenant.id)}/${created.id}`, { body: {} });
    expectProblem(response, 400, 'validation_failed');
    expect((await api('GET', `${numbersPath(tenant.id)}/${created.id}`)).body).toEqual(created);
  });

  it('answers 404 for an unknown id, a non-UUID id, another tenant’s number and an unknown tenant', async () => {
    const tenant = await createTenant();
    const other = await createTenant();
    const theirs = await createPhoneNumber(other.id);
    const body = { body: { is_active: false } };
    expectProblem(await api('PATCH', `${numbersPath(tenant.id)}/${UNKNOWN_ID}`, body), 404, 'phone_number_not_found');
    expectProblem(await api('PATCH', `${numbersPath(tenant.id)}/not-a-uuid`, body), 404, 'phone_number_not_found');
    expectProblem(await api('PATCH', `${numbersPath(tenant.id)}/${theirs.id}`, body), 404, 'phone_number_not_found');
    expectProblem(await api('PATCH', `${numbersPath(UNKNOWN_ID)}/${theirs.id}`, body), 404, 'tenant_not_found');
    expect((await sql('select is_active from phone_numbers where id = $1', [theirs.id])).rows).toEqual([{ is_active: true }]);
  });
});
