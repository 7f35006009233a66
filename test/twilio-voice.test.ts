// POST /webhooks/twilio/voice: Twilio asks what to do with a call to one of its numbers. Requests
// are signed by the official twilio library over PUBLIC_BASE_URL + path, as Twilio signs them.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../tools/free-port.ts';
import { type RunningWorker, startWorker } from '../tools/miniflare-worker.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { workerBindings } from './support/bindings.ts';
import { OTHER_TWILIO_ACCOUNT_SID, OTHER_TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL } from './support/constants.ts';
import { sendInbound } from './support/telephony.ts';
import { readTwiml, sendVoice, TWILIO_PATHS, voiceParams } from './support/twilio.ts';
import { openTwilioStream } from './support/twilio-media.ts';

async function twilioNumber(fields: Record<string, unknown> = {}) {
  const tenant = await createTenant();
  const number = await createPhoneNumber(tenant.id, { provider_type: 'twilio', ...fields });
  const profile = await createAiProfile(tenant.id, { is_default: true });
  return { tenant, number, profile };
}

async function callRows(callSid: string) {
  const { rows } = await sql('select * from calls where external_call_id = $1', [callSid]);
  return rows;
}

describe('POST /webhooks/twilio/voice, a routed call', () => {
  it('records the call and answers TwiML that streams it to its session, with the call record id as a parameter', async () => {
    const { tenant, number, profile } = await twilioNumber();
    const params = voiceParams(number.did_number, { From: '+14155550199' });
    const response = await sendVoice(params);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/xml/);
    const rows = await callRows(params.CallSid as string);
    expect(rows).toHaveLength(1);
    const call = rows[0];
    expect(call).toMatchObject({
      tenant_id: tenant.id,
      phone_number_id: number.id,
      ai_profile_id: profile.id,
      direction: 'inbound',
      status: 'initiated',
      caller_number: '+14155550199',
      called_number: number.did_number,
      carrier: 'twilio',
    });
    const twiml = readTwiml(response.text);
    expect(twiml.stream).toEqual({
      url: `${PUBLIC_BASE_URL.replace(/^http/, 'ws')}/internal/media/twilio/${tenant.id}/${call.id}`,
      parameters: { call_record_id: call.id, tenant_id: tenant.id },
    });

    // The call, as its tenant sees it: Twilio's CallSid as the external id, and its carrier.
    const fetched = await api('GET', `/api/tenants/${tenant.id}/calls/${call.id}`);
    expect(fetched.body).toMatchObject({ external_call_id: params.CallSid, carrier: 'twilio', status: 'initiated' });
  });

  it('answers a retry of the same call with the same TwiML and keeps one call row', async () => {
    const { number } = await twilioNumber();
    const params = voiceParams(number.did_number);
    const first = await sendVoice(params);
    const again = await Promise.all([sendVoice(params), sendVoice(params), sendVoice(params)]);
    for (const retry of again) expect(retry.text).toBe(first.text);
    expect(await callRows(params.CallSid as string)).toHaveLength(1);
  });

  it('stores a long or odd caller id as a call record holds it, never routing by it', async () => {
    const { number } = await twilioNumber();
    const params = voiceParams(number.did_number, { From: `sip:${'x'.repeat(80)}@example.sip.twilio.com` });
    const response = await sendVoice(params);
    expect(readTwiml(response.text).stream).toBeDefined();
    const [call] = await callRows(params.CallSid as string);
    expect(call.caller_number).toBe(params.From?.slice(0, 64));
  });
});

describe('POST /webhooks/twilio/voice, a refused call', () => {
  const rejected = async (params: Record<string, string>) => {
    const response = await sendVoice(params);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(readTwiml(response.text)).toEqual({ reject: 'rejected' });
    expect(await callRows(params.CallSid as string)).toHaveLength(0);
  };

  it('rejects a number no tenant owns', async () => {
    await rejected(voiceParams(randomDid()));
  });

  it('rejects a deactivated number', async () => {
    const { number } = await twilioNumber({ is_active: false });
    await rejected(voiceParams(number.did_number));
  });

  it('rejects a suspended or deleted tenant’s number', async () => {
    for (const status of ['suspended', 'deleted']) {
      const { tenant, number } = await twilioNumber();
      await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status } });
      await rejected(voiceParams(number.did_number));
    }
  });

  it('treats a number that is not a twilio number (generic, on the Tata trunk) as unknown', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    await rejected(voiceParams(number.did_number));
    // And the other way round: the bridge does not route a Twilio number.
    const twilio = await twilioNumber();
    const answer = await sendInbound(twilio.number.did_number);
    expect(answer.body).toMatchObject({ status: 'error', code: 'unknown_did' });
  });

  it('rejects a dialled number that is not a phone number', async () => {
    await rejected(voiceParams('client:alice'));
  });
});

describe('POST /webhooks/twilio/voice, signatures', () => {
  let number: { did_number: string };
  beforeAll(async () => {
    number = (await twilioNumber()).number;
  });

  const refused = async (response: Awaited<ReturnType<typeof sendVoice>>, callSid: string) => {
    expectProblem(response, 401, 'invalid_signature');
    expect(await callRows(callSid)).toHaveLength(0);
  };

  it('answers 401 to an unsigned request and records nothing', async () => {
    const params = voiceParams(number.did_number);
    await refused(await sendVoice(params, { token: null }), params.CallSid as string);
  });

  it('answers 401 to a request signed with another auth token', async () => {
    const params = voiceParams(number.did_number);
    await refused(await sendVoice(params, { token: OTHER_TWILIO_AUTH_TOKEN }), params.CallSid as string);
  });

  it('answers 401 when a parameter was altered after signing (To moved to another number)', async () => {
    const other = await twilioNumber();
    const params = voiceParams(number.did_number);
    const moved = { ...params, To: other.number.did_number, Called: other.number.did_number };
    await refused(await sendVoice(moved, { signedParams: params }), params.CallSid as string);
  });

  it('answers 401 to a signature over another URL (the real address instead of PUBLIC_BASE_URL, another path)', async () => {
    for (const signedUrl of [`${inject('workerUrl')}${TWILIO_PATHS.voice}`, `${PUBLIC_BASE_URL}${TWILIO_PATHS.status}`]) {
      const params = voiceParams(number.did_number);
      await refused(await sendVoice(params, { signedUrl }), params.CallSid as string);
    }
  });

  it('answers 401 to another account’s request, even signed with this auth token', async () => {
    const params = voiceParams(number.did_number, { AccountSid: OTHER_TWILIO_ACCOUNT_SID });
    await refused(await sendVoice(params), params.CallSid as string);
  });

  it('answers 400 to a signed request without a CallSid, and records nothing', async () => {
    const { CallSid: _omitted, ...params } = voiceParams(number.did_number);
    const response = await sendVoice(params);
    expectProblem(response, 400, 'validation_failed');
  });
});

describe('POST /webhooks/twilio/voice, with the database down', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    // Nothing listens there: every connection is refused.
    const url = new URL(inject('appDatabaseUrl'));
    url.port = String(await freePort());
    worker = await startWorker(inject('workerScript'), workerBindings({ DATABASE_URL: url.toString() }));
  });
  afterAll(() => worker?.dispose());

  it('answers busy, so the caller hears busy rather than an application error', async () => {
    const response = await sendVoice(voiceParams(randomDid()), { baseUrl: worker.url });
    expect(response.status).toBe(200);
    expect(readTwiml(response.text)).toEqual({ reject: 'busy' });
  });
});

describe('Twilio webhooks without Twilio configured', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startWorker(inject('workerScript'), workerBindings({ TWILIO_AUTH_TOKEN: '', PUBLIC_BASE_URL: '' }));
  });
  afterAll(() => worker?.dispose());

  it.each([TWILIO_PATHS.voice, TWILIO_PATHS.status])('%s answers 503 naming what is missing', async (path) => {
    const response = await api('POST', path, {
      token: null,
      raw: new URLSearchParams(voiceParams(randomDid())).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      baseUrl: worker.url,
    });
    const problem = expectProblem(response, 503, 'twilio_not_configured');
    expect(problem.detail).toContain('TWILIO_AUTH_TOKEN');
    expect(problem.detail).toContain('PUBLIC_BASE_URL');
  });

  it('refuses the media WebSocket with 503 as well', async () => {
    const opened = await openTwilioStream({
      workerUrl: worker.url,
      streamUrl: `ws://vca.test/internal/media/twilio/${randomUUID()}/${randomUUID()}`,
    });
    expect(opened).toMatchObject({ ok: false, status: 503, body: expect.stringContaining('twilio_not_configured') });
  });
});

describe('a Twilio call and tenant isolation', () => {
  it('is visible only to its own tenant', async () => {
    const { tenant, number } = await twilioNumber();
    const other = await twilioNumber();
    const params = voiceParams(number.did_number);
    await sendVoice(params);
    const [call] = await callRows(params.CallSid as string);

    const own = await api('GET', `/api/tenants/${tenant.id}/calls?carrier=twilio`);
    expect(own.body.data.map((item: { id: string }) => item.id)).toContain(call.id);
    expectProblem(await api('GET', `/api/tenants/${other.tenant.id}/calls/${call.id}`), 404, 'call_not_found');
    const foreign = await api('GET', `/api/tenants/${other.tenant.id}/calls?limit=100`);
    expect(foreign.body.data.map((item: { id: string }) => item.id)).not.toContain(call.id);
    expect(foreign.text).not.toContain(params.CallSid);
  });
});

describe('the Twilio routes in the OpenAPI document', () => {
  it('documents the webhooks (form bodies, TwiML answer) and the media socket, with the Twilio signature as their security', async () => {
    const spec = await api('GET', '/openapi.json', { token: null });
    const paths = spec.body.paths;
    const voice = paths[TWILIO_PATHS.voice].post;
    expect(Object.keys(voice.requestBody.content)).toEqual(['application/x-www-form-urlencoded']);
    expect(Object.keys(voice.responses[200].content)).toEqual(['text/xml']);
    expect(voice.security).toEqual([{ twilioSignature: [] }]);
    expect(paths[TWILIO_PATHS.status].post.security).toEqual([{ twilioSignature: [] }]);
    expect(paths['/internal/media/twilio/{tenant_id}/{call_record_id}'].get.responses).toHaveProperty('101');
    expect(spec.body.components.securitySchemes.twilioSignature).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'X-Twilio-Signature',
    });
    // A provider error is documented where it can happen.
    expect(paths['/api/tenants/{tenant_id}/phone-numbers'].post.responses).toHaveProperty('502');
    expect(paths['/api/tenants/{tenant_id}/phone-numbers/{phone_number_id}'].patch.responses).toHaveProperty('502');
  });
});
