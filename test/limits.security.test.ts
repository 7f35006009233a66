// Rate limits and the telephony allowlist, on Workers of their own (low limits, an allowlist).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningWorker, startWorker } from '../tools/miniflare-worker.ts';
import { api, createPhoneNumber, createTenant, expectProblem, sql } from './support/api.ts';
import { workerBindings } from './support/bindings.ts';
import { OPERATOR_TOKENS } from './support/constants.ts';
import { inboundPayload, signedPost } from './support/telephony.ts';

/**
 * A burst of 2 × limit + 1 against a limit of `limit` a minute: the limiter's window may turn over
 * once during the burst, so at most 2 × limit get through, and at least one request is refused.
 */
function expectLimited(statuses: number[], passing: number, limit: number) {
  expect(statuses).toHaveLength(2 * limit + 1);
  expect(statuses[0]).toBe(passing);
  expect(statuses.every((status) => status === passing || status === 429)).toBe(true);
  expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(1);
}

const LIMIT = 5;

describe('rate limits', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startWorker(inject('workerScript'), workerBindings(), undefined, 0, { api: LIMIT, ingest: LIMIT });
  });
  afterAll(() => worker?.dispose());

  it('answers 429 with Retry-After past the limit of one credential, and other credentials are unaffected', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof api>> | undefined;
    for (let i = 0; i < 2 * LIMIT + 1; i++) {
      const response = await api('GET', '/api/tenants?limit=1', { baseUrl: worker.url, token: OPERATOR_TOKENS[0] });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expectLimited(statuses, 200, LIMIT);
    expectProblem(limited as NonNullable<typeof limited>, 429, 'rate_limited');
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);

    const other = await api('GET', '/api/tenants?limit=1', { baseUrl: worker.url, token: OPERATOR_TOKENS[1] });
    expect(other.status).toBe(200);
  });

  it('limits API key checks per source address, so guessing keys cannot load the database', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 2 * LIMIT + 1; i++) {
      const guess = `vca_${'A'.repeat(12)}${i}${'b'.repeat(30)}`;
      statuses.push(
        (await api('GET', '/api/tenants?limit=1', { baseUrl: worker.url, token: guess, headers: { 'cf-connecting-ip': '203.0.113.66' } }))
          .status,
      );
    }
    expectLimited(statuses, 401, LIMIT);
    // Another address still gets its answer.
    const elsewhere = await api('GET', '/api/tenants?limit=1', {
      baseUrl: worker.url,
      token: `vca_${'C'.repeat(43)}`,
      headers: { 'cf-connecting-ip': '203.0.113.67' },
    });
    expect(elsewhere.status).toBe(401);
  });

  it('limits the ingest per source address, before anything is recorded', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const answers: Awaited<ReturnType<typeof signedPost>>[] = [];
    const payloads = Array.from({ length: 2 * LIMIT + 1 }, () => inboundPayload(number.did_number));
    for (const payload of payloads) {
      answers.push(
        await signedPost('/internal/telephony/inbound', payload, { headers: { 'cf-connecting-ip': '192.0.2.10' }, baseUrl: worker.url }),
      );
    }
    expectLimited(
      answers.map((answer) => answer.status),
      200,
      LIMIT,
    );
    const refused = payloads.filter((_, i) => answers[i]?.status === 429).map((p) => p.call_id);
    const { rowCount } = await sql('select 1 from calls where external_call_id = any($1)', [refused]);
    expect(rowCount).toBe(0);
    const elsewhere = await signedPost('/internal/telephony/inbound', inboundPayload(number.did_number), {
      headers: { 'cf-connecting-ip': '192.0.2.11' },
      baseUrl: worker.url,
    });
    expect(elsewhere.status).toBe(200);
  });
});

describe('telephony allowlist', () => {
  let worker: RunningWorker;
  let did: string;
  beforeAll(async () => {
    worker = await startWorker(
      inject('workerScript'),
      workerBindings({ TELEPHONY_ALLOWED_IPS: '203.0.113.0/24, 2001:db8::/32, 198.51.100.7' }),
    );
    did = (await createPhoneNumber((await createTenant()).id)).did_number;
  });
  afterAll(() => worker?.dispose());

  it.each(['203.0.113.42', '198.51.100.7', '2001:db8::1', '::ffff:203.0.113.9'])('lets %s in', async (address) => {
    const response = await signedPost('/internal/telephony/inbound', inboundPayload(did), {
      headers: { 'cf-connecting-ip': address },
      baseUrl: worker.url,
    });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('success');
  });

  it.each([['198.51.100.8'], ['203.0.114.1'], ['2001:db9::1'], ['not-an-ip'], [undefined]])(
    'refuses %s with 403 and records nothing',
    async (address) => {
      const payload = inboundPayload(did);
      const response = await signedPost('/internal/telephony/inbound', payload, {
        headers: address ? { 'cf-connecting-ip': address } : {},
        baseUrl: worker.url,
      });
      expectProblem(response, 403, 'ip_not_allowed');
      const { rowCount } = await sql('select 1 from calls where external_call_id = $1', [payload.call_id]);
      expect(rowCount).toBe(0);
    },
  );

  it('does not apply to the admin API', async () => {
    expect(
      (await api('GET', '/api/tenants?limit=1', { baseUrl: worker.url, headers: { 'cf-connecting-ip': '198.51.100.8' } })).status,
    ).toBe(200);
  });
});

describe('a malformed allowlist', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startWorker(inject('workerScript'), workerBindings({ TELEPHONY_ALLOWED_IPS: '203.0.113.0/24, bogus' }));
  });
  afterAll(() => worker?.dispose());

  it('is a configuration error named by /healthz', async () => {
    const response = await api('GET', '/healthz', { token: null, baseUrl: worker.url });
    expect(response.status).toBe(503);
    expect(response.body.checks.config).toContain('TELEPHONY_ALLOWED_IPS is invalid');
  });
});
