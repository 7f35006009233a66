// Attaching a Twilio number registers it with Twilio's REST API, and deactivating it takes that
// off — before the change is committed, so a carrier that refuses or cannot be reached leaves
// nothing changed: no row, no audit event. Twilio's API is a local server that records every
// request (test/support/twilio-api.ts), behind a Worker of this file's own.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../tools/free-port.ts';
import { type RunningWorker, startWorker } from '../tools/miniflare-worker.ts';
import { api, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { workerBindings } from './support/bindings.ts';
import { PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN } from './support/constants.ts';
import { startTwilioApi, type TwilioApi } from './support/twilio-api.ts';

const VOICE_URL = `${PUBLIC_BASE_URL}/webhooks/twilio/voice`;
const STATUS_URL = `${PUBLIC_BASE_URL}/webhooks/twilio/status`;
const ACCOUNT_PATH = `/2010-04-01/Accounts/${TWILIO_ACCOUNT_SID}`;
const BASIC = `Basic ${Buffer.from(`${TWILIO_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`).toString('base64')}`;

let twilioApi: TwilioApi;
let worker: RunningWorker;

beforeAll(async () => {
  twilioApi = await startTwilioApi();
  worker = await startWorker(inject('workerScript'), workerBindings({ TWILIO_API_BASE_URL: twilioApi.url }));
});
afterAll(async () => {
  await worker?.dispose();
  await twilioApi?.close();
});
beforeEach(() => {
  twilioApi.requests.length = 0;
  twilioApi.ownsEveryNumber = true;
  twilioApi.refuse = undefined;
  twilioApi.hang = false;
});

/** An API request to this file's Worker, with a request id to find its audit events by. */
async function call(method: string, path: string, body: unknown, baseUrl = worker.url) {
  const requestId = `twilio-${randomUUID()}`;
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

describe('attaching a Twilio number', () => {
  it('finds the number in the account and points its voice URL and status callback at VCA, then creates it', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'twilio' });

    expect(response.status, response.text).toBe(201);
    expect(response.body).toMatchObject({ did_number: did, provider_type: 'twilio', is_active: true });
    expect(audited).toBe(1);
    const [lookup, update] = twilioApi.requests;
    expect(twilioApi.requests).toHaveLength(2);
    expect(lookup).toMatchObject({ method: 'GET', path: `${ACCOUNT_PATH}/IncomingPhoneNumbers.json`, authorization: BASIC });
    expect(lookup?.query.get('PhoneNumber')).toBe(did);
    const sid = twilioApi.number(did).sid;
    expect(update).toMatchObject({
      method: 'POST',
      path: `${ACCOUNT_PATH}/IncomingPhoneNumbers/${sid}.json`,
      authorization: BASIC,
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(Object.fromEntries(update?.form ?? [])).toEqual({
      VoiceUrl: VOICE_URL,
      VoiceMethod: 'POST',
      VoiceApplicationSid: '',
      StatusCallback: STATUS_URL,
      StatusCallbackMethod: 'POST',
    });
    expect(twilioApi.number(did)).toMatchObject({ voice_url: VOICE_URL, status_callback: STATUS_URL });
  });

  it('takes a TwiML App off the number, which would otherwise take its calls', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    twilioApi.number(did).voice_application_sid = `AP${'0'.repeat(32)}`;
    expect((await attach(tenant.id, { did_number: did, provider_type: 'twilio' })).response.status).toBe(201);
    expect(twilioApi.number(did).voice_application_sid).toBe('');
  });

  it('attached inactive, makes sure the number does not point at VCA', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    Object.assign(twilioApi.number(did), { voice_url: VOICE_URL, status_callback: STATUS_URL });
    const { response } = await attach(tenant.id, { did_number: did, provider_type: 'twilio', is_active: false });
    expect(response.status).toBe(201);
    expect(twilioApi.number(did)).toMatchObject({ voice_url: '', status_callback: '' });
  });

  it('does not call Twilio for a generic number, nor for a duplicate', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    expect((await attach(tenant.id, { did_number: did })).response.status).toBe(201);
    expect(twilioApi.requests).toEqual([]);
    const duplicate = await attach(tenant.id, { did_number: did, provider_type: 'twilio' });
    expectProblem(duplicate.response, 409, 'did_already_registered');
    expect(twilioApi.requests).toEqual([]);
  });
});

describe('activating and deactivating a Twilio number', () => {
  it('clears the voice URL and status callback on deactivation and sets them again on reactivation', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { id } = (await attach(tenant.id, { did_number: did, provider_type: 'twilio' })).response.body;
    twilioApi.requests.length = 0;

    const off = await setActive(tenant.id, id, false);
    expect(off.response.status).toBe(200);
    expect(off.audited).toBe(1);
    expect(twilioApi.requests.map((request) => request.method)).toEqual(['GET', 'POST']);
    expect(Object.fromEntries(twilioApi.requests[1]?.form ?? [])).toEqual({ VoiceUrl: '', StatusCallback: '' });
    expect(twilioApi.number(did)).toMatchObject({ voice_url: '', status_callback: '' });

    const on = await setActive(tenant.id, id, true);
    expect(on.response.body.is_active).toBe(true);
    expect(twilioApi.number(did)).toMatchObject({ voice_url: VOICE_URL, status_callback: STATUS_URL });
  });

  it('leaves a number that points somewhere else alone when deactivating it', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { id } = (await attach(tenant.id, { did_number: did, provider_type: 'twilio' })).response.body;
    Object.assign(twilioApi.number(did), { voice_url: 'https://elsewhere.example.com/voice', status_callback: '' });
    twilioApi.requests.length = 0;
    expect((await setActive(tenant.id, id, false)).response.status).toBe(200);
    expect(twilioApi.requests.map((request) => request.method)).toEqual(['GET']);
    expect(twilioApi.number(did).voice_url).toBe('https://elsewhere.example.com/voice');
  });
});

describe('when Twilio refuses or cannot be reached', () => {
  it.each([
    [
      'refuses the update (400, 21502)',
      () => (twilioApi.refuse = { method: 'POST', status: 400, code: 21502, message: 'Invalid VoiceUrl' }),
    ],
    [
      'refuses the credentials (401, 20003)',
      () => (twilioApi.refuse = { method: 'GET', status: 401, code: 20003, message: 'Authenticate' }),
    ],
    ['does not have the number in the account', () => (twilioApi.ownsEveryNumber = false)],
    ['fails on its side (500)', () => (twilioApi.refuse = { method: 'POST', status: 500, code: 20500, message: 'Internal Server Error' })],
  ])('answers 502 provider_error when Twilio %s, and creates nothing (no row, no audit event)', async (_label, arrange) => {
    const tenant = await createTenant();
    const did = randomDid();
    arrange();
    const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'twilio' });
    const problem = expectProblem(response, 502, 'provider_error');
    expect(problem.detail).toMatch(/Nothing was changed/);
    expect(problem.detail).not.toContain(TWILIO_AUTH_TOKEN);
    expect(audited).toBe(0);
    expect(await numberRows(did)).toEqual([]);
  });

  it('answers 502 when deactivating fails, and the number stays active, unaudited', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { id } = (await attach(tenant.id, { did_number: did, provider_type: 'twilio' })).response.body;
    const before = (await sql('select to_jsonb(p) as row from phone_numbers p where id = $1', [id])).rows[0].row;
    twilioApi.refuse = { method: 'POST', status: 400, code: 21452, message: 'Number is locked' };
    const { response, audited } = await setActive(tenant.id, id, false);
    expectProblem(response, 502, 'provider_error');
    expect(audited).toBe(0);
    expect((await sql('select to_jsonb(p) as row from phone_numbers p where id = $1', [id])).rows[0].row).toEqual(before);
    expect(twilioApi.number(did).voice_url).toBe(VOICE_URL);
  });

  it('answers 502 when Twilio does not answer within 5 s', { timeout: 20_000 }, async () => {
    const tenant = await createTenant();
    const did = randomDid();
    twilioApi.hang = true;
    const started = Date.now();
    const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'twilio' });
    const problem = expectProblem(response, 502, 'provider_error');
    expect(problem.detail).toMatch(/did not answer within 5 s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    expect(audited).toBe(0);
    expect(await numberRows(did)).toEqual([]);
  });

  describe('with Twilio’s API unreachable', () => {
    let unreachable: RunningWorker;
    beforeAll(async () => {
      unreachable = await startWorker(
        inject('workerScript'),
        workerBindings({ TWILIO_API_BASE_URL: `http://127.0.0.1:${await freePort()}` }),
      );
    });
    afterAll(() => unreachable?.dispose());

    it('answers 502 provider_error and creates nothing', async () => {
      const tenant = await createTenant();
      const did = randomDid();
      const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'twilio' }, unreachable.url);
      expectProblem(response, 502, 'provider_error');
      expect(audited).toBe(0);
      expect(await numberRows(did)).toEqual([]);
    });
  });
});

describe('without Twilio configured', () => {
  let unconfigured: RunningWorker;
  beforeAll(async () => {
    unconfigured = await startWorker(inject('workerScript'), workerBindings({ TWILIO_ACCOUNT_SID: '', TWILIO_AUTH_TOKEN: '' }));
  });
  afterAll(() => unconfigured?.dispose());

  it('refuses to attach a Twilio number with 400, naming what is missing, and creates nothing', async () => {
    const tenant = await createTenant();
    const did = randomDid();
    const { response, audited } = await attach(tenant.id, { did_number: did, provider_type: 'twilio' }, unconfigured.url);
    const problem = expectProblem(response, 400, 'twilio_not_configured');
    expect(problem.detail).toContain('TWILIO_ACCOUNT_SID');
    expect(problem.detail).toContain('TWILIO_AUTH_TOKEN');
    expect(problem.detail).not.toContain('PUBLIC_BASE_URL');
    expect(audited).toBe(0);
    expect(await numberRows(did)).toEqual([]);
  });

  it('still attaches generic numbers', async () => {
    const tenant = await createTenant();
    expect((await attach(tenant.id, { did_number: randomDid() }, unconfigured.url)).response.status).toBe(201);
  });
});
