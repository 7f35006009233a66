// Attaching a Telnyx number assigns it to VCA's Call Control application through Telnyx's number
// API, and deactivating it takes it off — before the change is committed, so a carrier that
// refuses or cannot be reached leaves nothing changed: no row, no audit event. Telnyx's API is a
// local server that records every request (test/support/telnyx-api.ts), behind a Worker of this
// file's own.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../tools/free-port.ts';
import { type RunningWorker, startWorker } from '../tools/miniflare-worker.ts';
import { api, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { workerBindings } from './support/bindings.ts';
import { TELNYX_API_KEY, TELNYX_CONNECTION_ID } from './support/constants.ts';
import { startTelnyxApi, type TelnyxApi } from './support/telnyx-api.ts';

const BEARER = `Bearer ${TELNYX_API_KEY}`;
const ELSEWHERE = '2222222222222222222';

let telnyxApi: TelnyxApi;
let worker: RunningWorker;

beforeAll(async () => {
  telnyxApi = await startTelnyxApi();
  worker = await startWorker(inject('workerScript'), workerBindings({ TELNYX_API_BASE_URL: telnyxApi.url }));
});
afterAll(async () => {
  await worker?.dispose();
  await telnyxApi?.close();
});
beforeEach(() => {
  telnyxApi.requests.length = 0;
  telnyxApi.ownsEveryNumber = true;
  telnyxApi.refuse = undefined;
  telnyxApi.hang = false;
  telnyxApi.connections = new Set([TELNYX_CONNECTION_ID, ELSEWHERE]);
});

/** An API request to this file's Worker, with a request id to find its audit events by. */
async function call(method: string, path: string, body: unknown, baseUrl = worker.url) {
  const requestId = `telnyx-${randomUUID()}`;
  const response = await api(method, path, { body, baseUrl, headers: { 'x-request-id': requestId } });
  const audited = (await sql('select count(*)::int as n from audit_events where request_id = $1', [requestId])).rows[0].n as number;
  return { response, audited };
}

const attach = (tenantId: string, body: Record<string, unknown>, baseUrl?: string) =>
  call('POST', `/api/tenants/${tenantId}/phone-numbers`, body, baseUrl);
const setActive = (tenantId: string, id: string, isActive: boolean) =>
  call('PATCH', `/api/tenants/${tenantId}/phone-numbers/${id}`, { is_active: isActive });

async function numberRows(did: string) {
  return (await sql('select id, is_active, provider_type from phone_numbers where did_number = $1', [did])).rows;
}

describe('attaching a Telnyx number', () => {
  it('finds the number in the account by its digits and assigns it to VCA’s Call Control application, then creates it', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'telnyx' });

    expect(response.status, response.text).toBe(201);
    expect(response.body).toMatchObject({ did_number: did, provider_type: 'telnyx', is_active: true });
    expect(audited).toBe(1);
    expect(await numberRows(did)).toMatchObject([{ provider_type: 'telnyx', is_active: true }]);
    expect(telnyxApi.requests).toHaveLength(2);
    const [lookup, update] = telnyxApi.requests;
    expect(lookup).toMatchObject({ method: 'GET', path: '/v2/phone_numbers', authorization: BEARER });
    // Digits only: Telnyx's filter returns nothing for a "+".
    expect(lookup?.query.get('filter[phone_number]')).toBe(did.slice(1));
    const number = telnyxApi.number(did);
    expect(update).toMatchObject({
      method: 'PATCH',
      path: `/v2/phone_numbers/${number.id}`,
      authorization: BEARER,
      contentType: 'application/json',
      body: { connection_id: TELNYX_CONNECTION_ID },
    });
    expect(number.connection_id).toBe(TELNYX_CONNECTION_ID);
  });

  it('picks the exact number when the filter also matches longer ones', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    telnyxApi.ownsEveryNumber = false;
    const longer = telnyxApi.number(`+1${did.slice(1)}`);
    const exact = telnyxApi.number(did);
    expect((await attach(tenant.id, { did_number: did, provider_type: 'telnyx' })).response.status).toBe(201);
    expect(exact.connection_id).toBe(TELNYX_CONNECTION_ID);
    expect(longer.connection_id).toBeNull();
  });

  it('changes nothing at Telnyx when the number is already assigned to VCA’s application', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    telnyxApi.number(did).connection_id = TELNYX_CONNECTION_ID;
    expect((await attach(tenant.id, { did_number: did, provider_type: 'telnyx' })).response.status).toBe(201);
    expect(telnyxApi.requests.map((request) => request.method)).toEqual(['GET']);
  });

  it('takes the number over from another application', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    telnyxApi.number(did).connection_id = ELSEWHERE;
    expect((await attach(tenant.id, { did_number: did, provider_type: 'telnyx' })).response.status).toBe(201);
    expect(telnyxApi.number(did).connection_id).toBe(TELNYX_CONNECTION_ID);
  });

  it('attached inactive, makes sure the number is not assigned to VCA’s application', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    telnyxApi.number(did).connection_id = TELNYX_CONNECTION_ID;
    const { response } = await attach(tenant.id, { did_number: did, provider_type: 'telnyx', is_active: false });
    expect(response.status).toBe(201);
    expect(telnyxApi.requests[1]?.body).toEqual({ connection_id: null });
    expect(telnyxApi.number(did).connection_id).toBeNull();
  });

  it('does not call Telnyx for a generic or Twilio number, nor for a duplicate', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    expect((await attach(tenant.id, { did_number: did })).response.status).toBe(201);
    expect((await attach(tenant.id, { did_number: randomDid(), provider_type: 'twilio' })).response.status).toBe(201);
    expect(telnyxApi.requests).toEqual([]);
    expectProblem((await attach(tenant.id, { did_number: did, provider_type: 'telnyx' })).response, 409, 'did_already_registered');
    expect(telnyxApi.requests).toEqual([]);
  });
});

describe('activating and deactivating a Telnyx number', () => {
  it('takes the number off VCA’s application on deactivation and assigns it again on reactivation', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { id } = (await attach(tenant.id, { did_number: did, provider_type: 'telnyx' })).response.body;
    telnyxApi.requests.length = 0;

    const off = await setActive(tenant.id, id, false);
    expect(off.response.status).toBe(200);
    expect(off.audited).toBe(1);
    expect(telnyxApi.requests.map((request) => request.method)).toEqual(['GET', 'PATCH']);
    expect(telnyxApi.requests[1]?.body).toEqual({ connection_id: null });
    expect(telnyxApi.number(did).connection_id).toBeNull();

    const on = await setActive(tenant.id, id, true);
    expect(on.response.body.is_active).toBe(true);
    expect(telnyxApi.number(did).connection_id).toBe(TELNYX_CONNECTION_ID);
  });

  it('leaves a number assigned to another application alone when deactivating it', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { id } = (await attach(tenant.id, { did_number: did, provider_type: 'telnyx' })).response.body;
    telnyxApi.number(did).connection_id = ELSEWHERE;
    telnyxApi.requests.length = 0;
    expect((await setActive(tenant.id, id, false)).response.status).toBe(200);
    expect(telnyxApi.requests.map((request) => request.method)).toEqual(['GET']);
    expect(telnyxApi.number(did).connection_id).toBe(ELSEWHERE);
  });
});

describe('when Telnyx refuses or cannot be reached', () => {
  it.each([
    ['refuses the credentials (401, 10009)', () => (telnyxApi.refuse = { status: 401, code: '10009', title: 'Authentication failed' })],
    ['refuses the assignment (422)', () => (telnyxApi.refuse = { method: 'PATCH', status: 422, code: '10015', title: 'Invalid value' })],
    ['does not know VCA’s application (TELNYX_CONNECTION_ID of another account)', () => telnyxApi.connections.clear()],
    ['does not have the number in the account', () => (telnyxApi.ownsEveryNumber = false)],
    ['fails on its side (500)', () => (telnyxApi.refuse = { method: 'GET', status: 500, code: '10007', title: 'Unexpected error' })],
  ])('answers 502 provider_error when Telnyx %s, and creates nothing (no row, no audit event)', async (_label, arrange) => {
    const tenant = await createTenant();
    const did = randomDid();
    arrange();
    const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'telnyx' });
    const problem = expectProblem(response, 502, 'provider_error');
    expect(problem.detail).toMatch(/Nothing was changed/);
    expect(problem.detail).not.toContain(TELNYX_API_KEY);
    expect(audited).toBe(0);
    expect(await numberRows(did)).toEqual([]);
  });

  it('names what Telnyx answered and why', async () => {
    const tenant = await createTenant();
    telnyxApi.refuse = { status: 401, code: '10009', title: 'Authentication failed' };
    const refused = expectProblem(
      (await attach(tenant.id, { did_number: randomDid(), provider_type: 'telnyx' })).response,
      502,
      'provider_error',
    );
    expect(refused.detail).toContain('HTTP 401, error 10009');
    telnyxApi.refuse = undefined;
    telnyxApi.ownsEveryNumber = false;
    const did = randomDid();
    const missing = expectProblem((await attach(tenant.id, { did_number: did, provider_type: 'telnyx' })).response, 502, 'provider_error');
    expect(missing.detail).toContain(`${did} is not a phone number of the configured Telnyx account`);
  });

  it('answers 502 when deactivating fails, and the number stays active and assigned, unaudited', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { id } = (await attach(tenant.id, { did_number: did, provider_type: 'telnyx' })).response.body;
    const before = (await sql('select to_jsonb(p) as row from phone_numbers p where id = $1', [id])).rows[0].row;
    telnyxApi.refuse = { method: 'PATCH', status: 422, code: '10015', title: 'Number is locked' };
    const { response, audited } = await setActive(tenant.id, id, false);
    expectProblem(response, 502, 'provider_error');
    expect(audited).toBe(0);
    expect((await sql('select to_jsonb(p) as row from phone_numbers p where id = $1', [id])).rows[0].row).toEqual(before);
    expect(telnyxApi.number(did).connection_id).toBe(TELNYX_CONNECTION_ID);
  });

  it('answers 502 when Telnyx does not answer within 5 s', { timeout: 20_000 }, async () => {
    const tenant = await createTenant();
    const did = randomDid();
    telnyxApi.hang = true;
    const started = Date.now();
    const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'telnyx' });
    const problem = expectProblem(response, 502, 'provider_error');
    expect(problem.detail).toMatch(/did not answer within 5 s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    expect(audited).toBe(0);
    expect(await numberRows(did)).toEqual([]);
  });

  describe('with Telnyx’s API unreachable', () => {
    let unreachable: RunningWorker;
    beforeAll(async () => {
      unreachable = await startWorker(
        inject('workerScript'),
        workerBindings({ TELNYX_API_BASE_URL: `http://127.0.0.1:${await freePort()}` }),
      );
    });
    afterAll(() => unreachable?.dispose());

    it('answers 502 provider_error and creates nothing', async () => {
      const tenant = await createTenant();
      const did = randomDid();
      const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'telnyx' }, unreachable.url);
      const problem = expectProblem(response, 502, 'provider_error');
      expect(problem.detail).toMatch(/could not be reached/);
      expect(audited).toBe(0);
      expect(await numberRows(did)).toEqual([]);
    });
  });
});

describe('without Telnyx configured', () => {
  let unconfigured: RunningWorker;
  beforeAll(async () => {
    unconfigured = await startWorker(inject('workerScript'), workerBindings({ TELNYX_API_KEY: '', TELNYX_CONNECTION_ID: '' }));
  });
  afterAll(() => unconfigured?.dispose());

  it('refuses to attach a Telnyx number with 400, naming what is missing, and creates nothing', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'telnyx' }, unconfigured.url);
    const problem = expectProblem(response, 400, 'telnyx_not_configured');
    expect(problem.detail).toContain('TELNYX_API_KEY');
    expect(problem.detail).toContain('TELNYX_CONNECTION_ID');
    expect(problem.detail).not.toContain('TELNYX_PUBLIC_KEY');
    expect(problem.errors).toEqual([{ path: 'provider_type', message: 'telnyx needs TELNYX_API_KEY, TELNYX_CONNECTION_ID' }]);
    expect(audited).toBe(0);
    expect(await numberRows(did)).toEqual([]);
  });

  it('still attaches generic and Twilio numbers', async () => {
    const tenant = await createTenant();
    expect((await attach(tenant.id, { did_number: randomDid() }, unconfigured.url)).response.status).toBe(201);
    expect((await attach(tenant.id, { did_number: randomDid(), provider_type: 'twilio' }, unconfigured.url)).response.status).toBe(201);
  });
});
