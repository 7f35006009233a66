import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, randomDid, sql } from './support/api.ts';
import { REMOVED_SIGNING_SECRET, SIGNING_SECRETS } from './support/constants.ts';
import { inboundPayload, sendInbound, signedPost } from './support/telephony.ts';

const INBOUND = '/internal/telephony/inbound';

async function callRows(callId: string) {
  const { rows } = await sql('select * from calls where external_call_id = $1', [callId]);
  return rows;
}

/** A tenant with an active number and a default profile (and a non-default one). */
async function routedTenant() {
  const tenant = await createTenant();
  const number = await createPhoneNumber(tenant.id);
  await createAiProfile(tenant.id, { name: 'Sales', role: 'sales' });
  const profile = await createAiProfile(tenant.id, { name: 'Reception', role: 'receptionist', is_default: true });
  return { tenant, number, profile };
}

describe('POST /internal/telephony/inbound', () => {
  let routed: Awaited<ReturnType<typeof routedTenant>>;
  beforeAll(async () => {
    routed = await routedTenant();
  });

  it('records a call for the DID’s tenant, routed to its default AI profile', async () => {
    const payload = inboundPayload(routed.number.did_number, { caller_number: '+14155550199' });
    const response = await signedPost(INBOUND, payload);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      status: 'success',
      call_record_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      tenant_id: routed.tenant.id,
      phone_number_id: routed.number.id,
      ai_profile: { id: routed.profile.id, name: 'Reception', role: 'receptionist' },
      message: expect.any(String),
    });

    const rows = await callRows(payload.call_id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      id: response.body.call_record_id,
      tenant_id: routed.tenant.id,
      phone_number_id: routed.number.id,
      ai_profile_id: routed.profile.id,
      direction: 'inbound',
      status: 'initiated',
      caller_number: '+14155550199',
      called_number: routed.number.did_number,
    });
    expect(rows[0].started_at.getTime()).toBe(Number(payload.timestamp) * 1000);

    // And the operator sees it through the admin API.
    const call = await api('GET', `/api/tenants/${routed.tenant.id}/calls/${response.body.call_record_id}`);
    expect(call.status).toBe(200);
    expect(call.body).toMatchObject({ status: 'initiated', external_call_id: payload.call_id, ai_profile_id: routed.profile.id });
  });

  it('resolves a DID delivered in national format (as Tata sends it) to the E.164 row', async () => {
    const national = `0${routed.number.did_number.slice(3)}`;
    const payload = inboundPayload(national);
    const response = await signedPost(INBOUND, payload);
    expect(response.body).toMatchObject({ status: 'success', tenant_id: routed.tenant.id, phone_number_id: routed.number.id });
    const [row] = await callRows(payload.call_id);
    expect(row.called_number).toBe(routed.number.did_number);
  });

  it('accepts the timestamp as a number and stores an empty caller id as null', async () => {
    const payload = inboundPayload(routed.number.did_number, { caller_number: '', timestamp: 1_790_000_000 });
    const response = await signedPost(INBOUND, payload);
    expect(response.body.status).toBe('success');
    const [row] = await callRows(payload.call_id);
    expect(row.caller_number).toBeNull();
    expect(row.started_at.getTime()).toBe(1_790_000_000_000);
  });

  it('stores a hostile caller id exactly as received and never routes on it', async () => {
    const hostile = `'; drop table calls; -- ${routed.number.did_number}`;
    const payload = inboundPayload(randomDid(), { caller_number: hostile.slice(0, 64) });
    const response = await signedPost(INBOUND, payload);
    expect(response.body).toMatchObject({ status: 'error', code: 'unknown_did' });
    const accepted = inboundPayload(routed.number.did_number, { caller_number: hostile.slice(0, 64) });
    await signedPost(INBOUND, accepted);
    const [row] = await callRows(accepted.call_id);
    expect(row.caller_number).toBe(hostile.slice(0, 64));
  });

  it('answers ai_profile null when the tenant has no default profile, and still records the call', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    await createAiProfile(tenant.id, { is_default: false });
    const payload = inboundPayload(number.did_number);
    const response = await signedPost(INBOUND, payload);
    expect(response.body).toMatchObject({ status: 'success', tenant_id: tenant.id, ai_profile: null });
    const [row] = await callRows(payload.call_id);
    expect(row.ai_profile_id).toBeNull();
  });

  it('is idempotent: the same call replayed 10 times, with the same and new webhook ids, is one row', async () => {
    const payload = inboundPayload(routed.number.did_number);
    const first = await signedPost(INBOUND, payload, { id: 'msg_replay_fixed' });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await signedPost(INBOUND, payload, { id: 'msg_replay_fixed' }));
    for (let i = 0; i < 5; i++) answers.push(await signedPost(INBOUND, payload));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(first.body);
    }
    expect(await callRows(payload.call_id)).toHaveLength(1);
  });

  it('records the same call exactly once when duplicates arrive at the same instant', async () => {
    const payload = inboundPayload(routed.number.did_number);
    const answers = await Promise.all(Array.from({ length: 10 }, () => signedPost(INBOUND, payload)));
    const ids = new Set(answers.map((answer) => answer.body.call_record_id));
    expect(answers.every((answer) => answer.body.status === 'success')).toBe(true);
    expect(ids.size).toBe(1);
    expect(await callRows(payload.call_id)).toHaveLength(1);
  });

  it('keeps the same call id of two tenants apart', async () => {
    const other = await routedTenant();
    const callId = `shared.${randomUUID()}`;
    const a = await sendInbound(routed.number.did_number, { call_id: callId });
    const b = await sendInbound(other.number.did_number, { call_id: callId });
    expect(a.body.tenant_id).toBe(routed.tenant.id);
    expect(b.body.tenant_id).toBe(other.tenant.id);
    expect(a.body.call_record_id).not.toBe(b.body.call_record_id);
    const rows = await callRows(callId);
    expect(rows.map((row) => row.tenant_id).sort()).toEqual([routed.tenant.id, other.tenant.id].sort());
  });

  it('records 200 concurrent calls to 200 different call ids exactly once each', async () => {
    const numbers = [routed.number, await createPhoneNumber(routed.tenant.id), await createPhoneNumber(routed.tenant.id)];
    const payloads = Array.from({ length: 200 }, (_, i) => inboundPayload(numbers[i % numbers.length]?.did_number as string));
    const answers = await Promise.all(payloads.map((payload) => signedPost(INBOUND, payload)));
    expect(answers.filter((answer) => answer.status === 200 && answer.body.status === 'success')).toHaveLength(200);
    const { rows } = await sql('select external_call_id, count(*)::int as n from calls where external_call_id = any($1) group by 1', [
      payloads.map((payload) => payload.call_id),
    ]);
    expect(rows).toHaveLength(200);
    expect(rows.every((row) => row.n === 1)).toBe(true);
  });
});

describe('inbound calls that are refused', () => {
  it('refuses an unknown DID with unknown_did and records nothing', async () => {
    const payload = inboundPayload(randomDid());
    const response = await signedPost(INBOUND, payload);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'error', code: 'unknown_did', message: expect.any(String) });
    expect(await callRows(payload.call_id)).toHaveLength(0);
  });

  it('refuses a called number that is not a phone number as unknown_did', async () => {
    const payload = inboundPayload('anonymous');
    const response = await signedPost(INBOUND, payload);
    expect(response.body).toMatchObject({ status: 'error', code: 'unknown_did' });
    expect(await callRows(payload.call_id)).toHaveLength(0);
  });

  it('refuses a deactivated DID with inactive_did and records nothing', async () => {
    const { tenant, number } = await routedTenant();
    await api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${number.id}`, { body: { is_active: false } });
    const payload = inboundPayload(number.did_number);
    const response = await signedPost(INBOUND, payload);
    expect(response.body).toMatchObject({ status: 'error', code: 'inactive_did' });
    expect(await callRows(payload.call_id)).toHaveLength(0);
  });

  it.each(['suspended', 'deleted'])('refuses the calls of a %s tenant with tenant_inactive', async (status) => {
    const { tenant, number } = await routedTenant();
    await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status } });
    const payload = inboundPayload(number.did_number);
    const response = await signedPost(INBOUND, payload);
    expect(response.body).toMatchObject({ status: 'error', code: 'tenant_inactive' });
    expect(await callRows(payload.call_id)).toHaveLength(0);
  });

  it('reports inactive_did before tenant_inactive', async () => {
    const { tenant, number } = await routedTenant();
    await api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${number.id}`, { body: { is_active: false } });
    await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'suspended' } });
    const response = await sendInbound(number.did_number);
    expect(response.body).toMatchObject({ status: 'error', code: 'inactive_did' });
  });
});

describe('inbound signatures', () => {
  let did: string;
  beforeAll(async () => {
    did = (await routedTenant()).number.did_number;
  });

  const now = () => Math.floor(Date.now() / 1000);
  const failures: [string, () => Parameters<typeof signedPost>[2]][] = [
    ['no signature headers', () => ({ headers: { 'webhook-id': '', 'webhook-timestamp': '', 'webhook-signature': '' } })],
    ['no webhook-signature', () => ({ headers: { 'webhook-signature': '' } })],
    ['no webhook-id', () => ({ headers: { 'webhook-id': '' } })],
    ['a wrong secret', () => ({ secret: REMOVED_SIGNING_SECRET })],
    ['a removed (rotated-out) secret', () => ({ secret: REMOVED_SIGNING_SECRET })],
    ['a tampered body', () => ({ sendBody: JSON.stringify(inboundPayload(did, { call_id: 'tampered' })) })],
    ['a timestamp 301 s old', () => ({ timestamp: now() - 301 })],
    ['a timestamp 301 s in the future', () => ({ timestamp: now() + 301 })],
    ['a signature with another scheme', () => ({ headers: { 'webhook-signature': 'v2,abc' } })],
    ['a webhook-id changed after signing', () => ({ headers: { 'webhook-id': 'msg_other' } })],
  ];

  it.each(failures)('answers 401 for %s, saying nothing about which check failed, and records nothing', async (_name, options) => {
    const payload = inboundPayload(did);
    const response = await signedPost(INBOUND, payload, options());
    const problem = expectProblem(response, 401, 'invalid_signature');
    expect(problem.detail).toBe('The request is not signed with a current telephony signing secret.');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await callRows(payload.call_id)).toHaveLength(0);
    expect(await callRows('tampered')).toHaveLength(0);
  });

  it('accepts every listed secret while rotating (old and new)', async () => {
    for (const secret of SIGNING_SECRETS) {
      const response = await sendInbound(did, {}, { secret });
      expect(response.body.status).toBe('success');
    }
  });

  it('accepts a timestamp within 300 s either way', async () => {
    expect((await sendInbound(did, {}, { timestamp: now() - 290 })).body.status).toBe('success');
    expect((await sendInbound(did, {}, { timestamp: now() + 290 })).body.status).toBe('success');
  });

  it('checks the signature before the body: an unsigned malformed body is 401, a signed one is 400', async () => {
    const unsigned = await api('POST', INBOUND, { token: null, raw: '{"call_id":', headers: { 'content-type': 'application/json' } });
    expectProblem(unsigned, 401, 'invalid_signature');
    expectProblem(await signedPost(INBOUND, '{"call_id":'), 400, 'malformed_json');
  });

  it('does not accept an operator token instead of a signature', async () => {
    const response = await api('POST', INBOUND, { body: inboundPayload(did) });
    expectProblem(response, 401, 'invalid_signature');
  });
});

describe('malformed inbound requests', () => {
  it.each([
    ['missing called_number', { called_number: undefined }, 'called_number'],
    ['missing call_id', { call_id: undefined }, 'call_id'],
    ['missing timestamp', { timestamp: undefined }, 'timestamp'],
    ['a timestamp that is not epoch seconds', { timestamp: '2026-11-25T10:00:00Z' }, 'timestamp'],
    ['a caller id over 64 characters', { caller_number: '1'.repeat(65) }, 'caller_number'],
    ['a call id with spaces', { call_id: 'a b' }, 'call_id'],
    ['an unknown field', { channel: 'PJSIP/tata-0001' }, 'channel'],
    ['a called_number that is a number', { called_number: 919876543210 }, 'called_number'],
  ])('answers 400 for %s and records nothing', async (_name, change, path) => {
    const payload = { ...inboundPayload(randomDid()), ...change };
    const response = await signedPost(INBOUND, payload);
    const problem = expectProblem(response, 400, 'validation_failed');
    expect(problem.errors?.map((error) => error.path)).toContain(path);
    const { rowCount } = await sql('select 1 from calls where external_call_id = $1', [String(payload.call_id)]);
    expect(rowCount).toBe(0);
  });
});

describe('ingest logs', () => {
  it('prefix [INBOUND CALL], carry request and webhook ids and the outcome, mask the caller, never the signature', async () => {
    const { number } = await routedTenant();
    const webhookId = `msg_log_${randomUUID()}`;
    const requestId = `req-${randomUUID()}`;
    const response = await sendInbound(
      number.did_number,
      { caller_number: '+14155557788' },
      { id: webhookId, headers: { 'x-request-id': requestId } },
    );
    expect(response.body.status).toBe('success');
    let entry: Record<string, unknown> | undefined;
    let text = '';
    for (let i = 0; i < 50 && !entry; i++) {
      text = readFileSync(inject('workerLog'), 'utf8');
      entry = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
        .find((e) => e.webhook_id === webhookId && String(e.msg).startsWith('[INBOUND CALL]'));
      if (!entry) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(entry).toMatchObject({
      msg: '[INBOUND CALL] recorded',
      request_id: requestId,
      outcome: 'success',
      caller_number: '********7788',
    });
    expect(text).not.toContain('+14155557788');
    for (const secret of SIGNING_SECRETS) expect(text).not.toContain(secret.slice(6));
    expect(text).not.toMatch(/"webhook-signature"|v1,[A-Za-z0-9+/]{43}=/);
  });
});
