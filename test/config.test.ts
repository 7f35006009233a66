// Fail-fast configuration: the Worker starts with bad settings, but says so instead of serving.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningWorker, startWorker } from '../tools/miniflare-worker.ts';
import { api, expectProblem } from './support/api.ts';
import { workerBindings } from './support/bindings.ts';

const SECRET_LOOKING = 'sup3r-s3cret-value';

const cases: { name: string; change: (b: Record<string, string>) => void; names: string[] }[] = [
  { name: 'DATABASE_URL missing', change: (b) => delete b.DATABASE_URL, names: ['DATABASE_URL is missing'] },
  {
    name: 'DATABASE_URL not a postgres URL',
    change: (b) => (b.DATABASE_URL = `mysql://root:${SECRET_LOOKING}@db/vca`),
    names: ['DATABASE_URL is invalid'],
  },
  { name: 'ADMIN_API_TOKENS missing', change: (b) => delete b.ADMIN_API_TOKENS, names: ['ADMIN_API_TOKENS is missing'] },
  { name: 'ADMIN_API_TOKENS too short', change: (b) => (b.ADMIN_API_TOKENS = 'short'), names: ['ADMIN_API_TOKENS is invalid'] },
  {
    name: 'TELEPHONY_SIGNING_SECRETS missing',
    change: (b) => delete b.TELEPHONY_SIGNING_SECRETS,
    names: ['TELEPHONY_SIGNING_SECRETS is missing'],
  },
  {
    name: 'TELEPHONY_SIGNING_SECRETS not whsec_',
    change: (b) => (b.TELEPHONY_SIGNING_SECRETS = SECRET_LOOKING),
    names: ['TELEPHONY_SIGNING_SECRETS is invalid'],
  },
  { name: 'APP_ENV missing', change: (b) => delete b.APP_ENV, names: ['APP_ENV is missing'] },
  { name: 'APP_ENV unknown', change: (b) => (b.APP_ENV = SECRET_LOOKING), names: ['APP_ENV is invalid'] },
  {
    name: 'several at once',
    change: (b) => {
      delete b.DATABASE_URL;
      delete b.APP_ENV;
    },
    names: ['DATABASE_URL is missing', 'APP_ENV is missing'],
  },
];

describe.each(cases)('with $name', ({ change, names }) => {
  let worker: RunningWorker;
  beforeAll(async () => {
    const bindings = workerBindings();
    change(bindings);
    worker = await startWorker(inject('workerScript'), bindings);
  });
  afterAll(() => worker?.dispose());

  it('GET /healthz answers 503 naming the settings, never their values', async () => {
    const response = await api('GET', '/healthz', { token: null, baseUrl: worker.url });
    expect(response.status).toBe(503);
    expect(response.body.status).toBe('error');
    for (const name of names) expect(response.body.checks.config).toContain(name);
    expect(response.text).not.toContain(SECRET_LOOKING);
    expect(response.text).not.toContain(inject('appDatabaseUrl'));
  });

  it('every /api route answers 503 service_misconfigured', async () => {
    for (const [method, path] of [
      ['GET', '/api/tenants'],
      ['POST', '/api/tenants'],
      ['GET', '/api/tenants/00000000-0000-4000-8000-000000000000/calls'],
    ] as const) {
      const response = await api(method, path, { baseUrl: worker.url, body: method === 'POST' ? { name: 'x' } : undefined });
      const problem = expectProblem(response, 503, 'service_misconfigured');
      for (const name of names) expect(problem.detail).toContain(name.split(' ')[0]);
      expect(response.text).not.toContain(SECRET_LOOKING);
    }
  });
});

describe('with the database unreachable', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startWorker(inject('workerScript'), {
      ...workerBindings(),
      // Nothing listens on port 9 (discard) here: connections are refused.
      DATABASE_URL: `postgres://postgres:${SECRET_LOOKING}@127.0.0.1:9/vca`,
    });
  });
  afterAll(() => worker?.dispose());

  it('GET /healthz answers 503 with the database check failing, config ok', async () => {
    const response = await api('GET', '/healthz', { token: null, baseUrl: worker.url });
    expect(response.status).toBe(503);
    expect(response.body.checks.config).toBe('ok');
    expect(response.body.checks.database).toMatch(/^unreachable/);
    expect(response.text).not.toContain(SECRET_LOOKING);
  });

  it('API routes answer 503 database_unavailable with Retry-After, not 500', async () => {
    const response = await api('GET', '/api/tenants', { baseUrl: worker.url });
    expectProblem(response, 503, 'database_unavailable');
    expect(response.headers.get('retry-after')).toBeTruthy();
    expect(response.text).not.toContain(SECRET_LOOKING);
    expect(response.text).not.toContain('127.0.0.1');
  });

  it('still answers 401 before touching the database', async () => {
    expectProblem(await api('GET', '/api/tenants', { baseUrl: worker.url, token: 'wrong-token-123456' }), 401, 'unauthorized');
  });
});
