import { describe, expect, it } from 'vitest';
import { api, createTenant, expectProblem } from './support/api.ts';

describe('tenants', () => {
  it('creates an active starter tenant by default and answers 201 with its Location', async () => {
    const response = await api('POST', '/api/tenants', { body: { name: '  Acme Dental  ' } });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ name: 'Acme Dental', status: 'active', plan: 'starter' });
    expect(response.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(response.headers.get('location')).toBe(`/api/tenants/${response.body.id}`);

    const fetched = await api('GET', `/api/tenants/${response.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(response.body);
  });

  it('accepts an explicit plan and status', async () => {
    const tenant = await createTenant({ plan: 'growth', status: 'suspended' });
    expect(tenant).toMatchObject({ plan: 'growth', status: 'suspended' });
  });

  it.each([
    [{}, 'name'],
    [{ name: '' }, 'name'],
    [{ name: '   ' }, 'name'],
    [{ name: 42 }, 'name'],
    [{ name: 'x', plan: 'enterprise' }, 'plan'],
    [{ name: 'x', status: 'closed' }, 'status'],
    [{ name: 'x', owner: 'me' }, 'owner'],
  ])('rejects %j with a 400 naming %s', async (body, path) => {
    const response = await api('POST', '/api/tenants', { body });
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors?.map((e) => e.path)).toContain(path);
  });

  it('changes only status and plan', async () => {
    const tenant = await createTenant();
    const suspended = await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'suspended' } });
    expect(suspended.status).toBe(200);
    expect(suspended.body).toMatchObject({ status: 'suspended', plan: 'starter', name: tenant.name });
    expect(Date.parse(suspended.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(suspended.body.created_at));

    const upgraded = await api('PATCH', `/api/tenants/${tenant.id}`, { body: { plan: 'custom', status: 'active' } });
    expect(upgraded.body).toMatchObject({ status: 'active', plan: 'custom' });

    const renamed = await api('PATCH', `/api/tenants/${tenant.id}`, { body: { name: 'New name' } });
    expectProblem(renamed, 400, 'validation_failed');
    const empty = await api('PATCH', `/api/tenants/${tenant.id}`, { body: {} });
    expectProblem(empty, 400, 'validation_failed');
    const badStatus = await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'gone' } });
    expectProblem(badStatus, 400, 'validation_failed');

    const after = await api('GET', `/api/tenants/${tenant.id}`);
    expect(after.body).toMatchObject({ name: tenant.name, status: 'active', plan: 'custom' });
  });

  it('keeps deleted tenants readable', async () => {
    const tenant = await createTenant();
    await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'deleted' } });
    const fetched = await api('GET', `/api/tenants/${tenant.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.status).toBe('deleted');
  });

  it('answers 404 for an unknown or malformed tenant id', async () => {
    expectProblem(await api('GET', '/api/tenants/00000000-0000-4000-8000-000000000000'), 404, 'tenant_not_found');
    expectProblem(await api('GET', '/api/tenants/not-a-uuid'), 404, 'tenant_not_found');
    expectProblem(
      await api('PATCH', '/api/tenants/00000000-0000-4000-8000-000000000000', { body: { plan: 'growth' } }),
      404,
      'tenant_not_found',
    );
  });

  it('lists newest first with cursor pagination and a status filter', async () => {
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await createTenant({ status: 'suspended', plan: 'custom' }));
    const mine = new Set(created.map((t) => t.id));

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?status=suspended&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api('GET', `/api/tenants${query}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      for (const tenant of page.body.data) {
        expect(tenant.status).toBe('suspended');
        seen.push(tenant.id);
      }
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor && pages < 1000);

    expect(new Set(seen).size).toBe(seen.length);
    const ours = seen.filter((id) => mine.has(id));
    expect(ours).toEqual(created.map((t) => t.id).reverse());
  });

  it('rejects a limit outside 1–100 and a cursor it did not issue', async () => {
    expectProblem(await api('GET', '/api/tenants?limit=0'), 400, 'validation_failed');
    expectProblem(await api('GET', '/api/tenants?limit=101'), 400, 'validation_failed');
    expectProblem(await api('GET', '/api/tenants?limit=ten'), 400, 'validation_failed');
    expectProblem(await api('GET', '/api/tenants?cursor=garbage'), 400, 'invalid_cursor');
    expectProblem(await api('GET', `/api/tenants?cursor=${btoa('{"c":"x","i":"y"}')}`), 400, 'invalid_cursor');
  });

  it('defaults to 50 per page', async () => {
    for (let i = 0; i < 3; i++) await createTenant();
    const page = await api('GET', '/api/tenants?limit=100');
    const all = page.body.data.length;
    const defaultPage = await api('GET', '/api/tenants');
    expect(defaultPage.body.data.length).toBe(Math.min(50, all));
  });
});
