// Inputs at the edges that must never become a 500: text Postgres cannot store, time zones it
// does not know, periods before year 1 — and concurrent ends of one call answering consistently.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, sql } from './support/api.ts';
import { sendCallEnded, sendInbound } from './support/telephony.ts';

describe('text with a NUL character', () => {
  it('is a 400 on the admin API and changes nothing', async () => {
    const name = `Nul ${randomUUID()}\u0000tail`;
    expectProblem(await api('POST', '/api/tenants', { body: { name } }), 400, 'validation_failed');
    const { rowCount } = await sql('select 1 from tenants where name like $1', [`Nul ${name.slice(4, 40)}%`]);
    expect(rowCount).toBe(0);
    const tenant = await createTenant();
    const profile = await createAiProfile(tenant.id);
    const patched = await api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${profile.id}`, {
      body: { system_prompt: 'Be kind.\u0000' },
    });
    expectProblem(patched, 400, 'validation_failed');
    const { rows } = await sql('select system_prompt from ai_profiles where id = $1', [profile.id]);
    expect(rows[0].system_prompt).toBe('You are a helpful receptionist.');
  });

  it('is a 400 on the ingest and records nothing', async () => {
    const number = await createPhoneNumber((await createTenant()).id);
    const callId = `nul.${randomUUID()}`;
    expectProblem(await sendInbound(number.did_number, { call_id: callId, caller_number: '+1415\u0000' }), 400, 'validation_failed');
    const { rowCount } = await sql('select 1 from calls where external_call_id = $1', [callId]);
    expect(rowCount).toBe(0);
  });
});

describe('time zones and periods Postgres cannot take as written', () => {
  it('reads a filter with an offset beyond ±15:59 as the instant it names', async () => {
    const tenant = await createTenant();
    const response = await api(
      'GET',
      `/api/tenants/${tenant.id}/calls?from=${encodeURIComponent('2024-01-01T00:00:00+16:00')}&to=${encodeURIComponent('2024-01-02T00:00:00-23:00')}`,
    );
    expect(response.status).toBe(200);
  });

  it('refuses a cursor with an impossible offset as one it did not issue', async () => {
    const tenant = await createTenant();
    for (const c of ['2026-01-01 00:00:00+16', '2026-01-01 00:00:00+99', '2026-01-01 00:00:00+00:99']) {
      const cursor = btoa(JSON.stringify({ c, i: randomUUID() })).replaceAll('=', '');
      expectProblem(await api('GET', `/api/tenants/${tenant.id}/calls?cursor=${cursor}`), 400, 'invalid_cursor');
    }
  });

  it('refuses stats for a default period that would start before the year 1', async () => {
    const tenant = await createTenant();
    expectProblem(await api('GET', `/api/tenants/${tenant.id}/calls/stats?to=0001-01-05T00:00:00Z`), 400, 'invalid_range');
  });
});

describe('concurrent ends of the same call', () => {
  it('all answer with the one end that won, which is the one stored', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const callId = `race-end.${randomUUID()}`;
    const inbound = await sendInbound(number.did_number, { call_id: callId });
    expect(inbound.body.status).toBe('success');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sendCallEnded(callId, number.did_number, { duration_seconds: i + 1, hangup_cause: 16 })),
    );
    for (const answer of answers)
      expect(answer.body).toEqual({ status: 'success', call_record_id: inbound.body.call_record_id, call_status: 'ended' });
    const { rows } = await sql('select status, duration_seconds from calls where external_call_id = $1', [callId]);
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe('ended');
  });
});

describe('the audit log as a tenant reads it', () => {
  it('shows that an operator acted, but not which one nor from where', async () => {
    const tenant = await createTenant();
    const key = await api('POST', `/api/tenants/${tenant.id}/api-keys`, {
      body: { name: 'reader' },
      headers: { 'cf-connecting-ip': '198.51.100.23' },
    });
    const asTenant = await api('GET', `/api/tenants/${tenant.id}/audit-events`, { token: key.body.key });
    expect(asTenant.status).toBe(200);
    const operatorEvents = asTenant.body.data.filter((event: { actor_type: string }) => event.actor_type === 'operator');
    expect(operatorEvents.length).toBeGreaterThan(0);
    for (const event of operatorEvents) expect(event).toMatchObject({ actor_id: 'operator', source_ip: null });
    const asOperator = await api('GET', `/api/tenants/${tenant.id}/audit-events`);
    const created = asOperator.body.data.find((event: { action: string }) => event.action === 'api_key.created');
    expect(created.actor_id).toMatch(/^operator:[0-9a-f]{16}$/);
    expect(created.source_ip).toBe('198.51.100.23');
  });
});
