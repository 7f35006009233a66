import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { api, createTenant, expectProblem, sql } from './support/api.ts';
import { OPERATOR_TOKENS } from './support/constants.ts';

describe('service endpoints', () => {
  it('GET /healthz reports config and database ok', async () => {
    const response = await api('GET', '/healthz', { token: null });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok', checks: { config: 'ok', database: 'ok' } });
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('GET / names the service, its version, environment and links', async () => {
    const response = await api('GET', '/', { token: null });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      name: 'VCA',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      environment: 'test',
      docs: '/docs',
      openapi: '/openapi.json',
    });
  });

  it('serves an OpenAPI 3.1 document covering every admin route, with bearer security', async () => {
    const response = await api('GET', '/openapi.json', { token: null });
    expect(response.status).toBe(200);
    const doc = response.body;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'GET /',
        'GET /api/tenants',
        'POST /api/tenants',
        'GET /api/tenants/{tenant_id}',
        'PATCH /api/tenants/{tenant_id}',
        'POST /api/tenants/{tenant_id}/phone-numbers',
        'GET /api/tenants/{tenant_id}/phone-numbers',
        'GET /api/tenants/{tenant_id}/phone-numbers/{phone_number_id}',
        'PATCH /api/tenants/{tenant_id}/phone-numbers/{phone_number_id}',
        'POST /api/tenants/{tenant_id}/ai-profiles',
        'GET /api/tenants/{tenant_id}/ai-profiles',
        'GET /api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}',
        'PATCH /api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}',
        'GET /api/tenants/{tenant_id}/calls',
        'GET /api/tenants/{tenant_id}/calls/{call_id}',
      ]),
    );
    const createTenantOp = doc.paths['/api/tenants'].post;
    expect(createTenantOp.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(createTenantOp.responses)).toEqual(expect.arrayContaining(['201', '400', '401']));
    expect(doc.components.schemas.Problem).toBeDefined();
    // Rate limits and the allowlist answer on these routes, so the document says so.
    expect(Object.keys(doc.paths['/api/tenants'].get.responses)).toContain('429');
    expect(Object.keys(doc.paths['/internal/telephony/inbound'].post.responses)).toEqual(expect.arrayContaining(['401', '403', '429']));
    // Any credential can be refused: a suspended tenant's key gets 403 tenant_inactive everywhere.
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { responses: object }>>)) {
      if (!path.startsWith('/api/')) continue;
      for (const [method, operation] of Object.entries(item)) {
        expect(Object.keys(operation.responses), `${method.toUpperCase()} ${path}`).toEqual(expect.arrayContaining(['401', '403', '429']));
      }
    }
  });

  it('serves a docs page that loads the OpenAPI document', async () => {
    const response = await api('GET', '/docs', { token: null });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.text).toContain('/openapi.json');
  });
});

describe('errors are problem+json everywhere', () => {
  it('answers an unknown route with 404 route_not_found', async () => {
    expectProblem(await api('GET', '/nope', { token: null }), 404, 'route_not_found');
    expectProblem(await api('GET', '/api/tenants/00000000-0000-4000-8000-000000000000/widgets'), 404, 'route_not_found');
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const response = await api('DELETE', '/api/tenants');
    expectProblem(response, 405, 'method_not_allowed');
    expect(response.headers.get('allow')).toBe('GET, HEAD, POST');
    const onTenant = await api('PUT', `/api/tenants/${randomUUID()}`, { body: { name: 'x' } });
    expectProblem(onTenant, 405, 'method_not_allowed');
    expect(onTenant.headers.get('allow')).toBe('GET, HEAD, PATCH');
  });

  it('rejects malformed JSON with 400 malformed_json and creates nothing', async () => {
    const name = `Malformed ${randomUUID()}`;
    const response = await api('POST', '/api/tenants', { raw: `{"name": "${name}"`, headers: { 'content-type': 'application/json' } });
    expectProblem(response, 400, 'malformed_json');
    const { rowCount } = await sql('select 1 from tenants where name = $1', [name]);
    expect(rowCount).toBe(0);
  });

  it('rejects a body that is not JSON with 415', async () => {
    const response = await api('POST', '/api/tenants', {
      raw: 'name=Acme',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectProblem(response, 415, 'unsupported_media_type');
  });

  it('rejects bodies over 64 KiB with 413 and creates nothing', async () => {
    const name = `Big ${randomUUID()}`;
    const response = await api('POST', '/api/tenants', { body: { name, padding: 'x'.repeat(70 * 1024) } });
    expectProblem(response, 413, 'payload_too_large');
    const { rowCount } = await sql('select 1 from tenants where name = $1', [name]);
    expect(rowCount).toBe(0);
  });

  it('never answers with a stack trace or SQL text', async () => {
    const responses = await Promise.all([
      api('POST', '/api/tenants', { body: { name: 'x'.repeat(201) } }),
      api('GET', '/api/tenants?cursor=eyJjIjoiMjAyNi0wMS0wMSAwMDowMDowMCIsImkiOiJub3QtYS11dWlkIn0'),
      api('POST', '/api/tenants', { raw: '[]', headers: { 'content-type': 'application/json' } }),
      api('POST', '/api/tenants', { raw: 'null', headers: { 'content-type': 'application/json' } }),
    ]);
    for (const response of responses) {
      expect(response.status).toBe(400);
      expect(response.text).not.toMatch(/select |insert |\bat .*\.(ts|js):\d+|stack/i);
    }
  });
});

describe('request ids and logs', () => {
  it('returns a request id on every response, echoing a sane one from the client', async () => {
    const generated = await api('GET', '/healthz', { token: null });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await api('GET', '/healthz', { token: null, headers: { 'x-request-id': 'client-req-42' } });
    expect(echoed.headers.get('x-request-id')).toBe('client-req-42');
    const hostile = await api('GET', '/healthz', { token: null, headers: { 'x-request-id': 'a"b<script>' } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const problem = await api('GET', '/nope', { token: null, headers: { 'x-request-id': 'client-req-43' } });
    expect(problem.body.request_id).toBe('client-req-43');
  });

  it('logs one JSON line per request with its request id, and never a token or a body', async () => {
    const requestId = `log-test-${randomUUID()}`;
    const name = `Logged ${randomUUID()}`;
    await createTenant({ name });
    await api('GET', '/api/tenants', { headers: { 'x-request-id': requestId } });
    await api('GET', '/api/tenants', { token: 'not-a-valid-token-xyz', headers: { 'x-request-id': `${requestId}-denied` } });
    // Logs arrive asynchronously from workerd.
    let lines: string[] = [];
    for (let i = 0; i < 50; i++) {
      lines = readFileSync(inject('workerLog'), 'utf8').split('\n').filter(Boolean);
      if (lines.some((line) => line.includes(`${requestId}-denied`))) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const entry = lines.map((line) => JSON.parse(line)).find((e) => e.request_id === requestId);
    expect(entry).toMatchObject({ level: 'info', msg: 'request', method: 'GET', path: '/api/tenants', status: 200 });
    expect(typeof entry.duration_ms).toBe('number');
    const denied = lines.map((line) => JSON.parse(line)).find((e) => e.request_id === `${requestId}-denied`);
    expect(denied.status).toBe(401);
    const all = lines.join('\n');
    for (const token of OPERATOR_TOKENS) expect(all).not.toContain(token);
    expect(all).not.toContain('not-a-valid-token-xyz');
    expect(all).not.toContain(name);
  });
});
