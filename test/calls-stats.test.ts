import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, insertCall, sql } from './support/api.ts';
import { sendCallEnded, sendInbound } from './support/telephony.ts';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const STATUSES = ['initiated', 'ringing', 'answered', 'ended', 'failed'] as const;
const DAY_MS = 86_400_000;

type Status = (typeof STATUSES)[number];

interface CallStats {
  from: string;
  to: string;
  total_calls: number;
  by_status: Record<Status, number>;
  total_duration_seconds: number;
  average_duration_seconds: number | null;
  per_day: { date: string; calls: number }[];
}

function statsPath(tenantId: string, query: Record<string, string> = {}) {
  const search = new URLSearchParams(query).toString();
  return `/api/tenants/${tenantId}/calls/stats${search ? `?${search}` : ''}`;
}

/** The stats of a tenant (asserting a 200 JSON answer). */
async function stats(tenantId: string, query: Record<string, string> = {}): Promise<CallStats> {
  const response = await api<CallStats>('GET', statsPath(tenantId, query));
  expect(response.status, response.text).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return response.body;
}

/** by_status with every status, zero unless given. */
function byStatus(counts: Partial<Record<Status, number>> = {}): Record<Status, number> {
  return { initiated: 0, ringing: 0, answered: 0, ended: 0, failed: 0, ...counts };
}

/** Every UTC date from `from`'s day to the day of the last instant before `to`. */
function utcDays(from: string, to: string): string[] {
  const days: string[] = [];
  const last = new Date(Date.parse(to) - 1).toISOString().slice(0, 10);
  for (let day = Date.parse(`${from.slice(0, 10)}T00:00:00Z`); ; day += DAY_MS) {
    const date = new Date(day).toISOString().slice(0, 10);
    days.push(date);
    if (date === last) return days;
  }
}

/** The same aggregate, computed by Postgres directly from the rows. */
async function sqlAggregate(tenantId: string, from: string, to: string) {
  const where = 'tenant_id = $1 and started_at >= $2::timestamptz and started_at < $3::timestamptz';
  const totals = await sql(
    `select count(*)::int as total, coalesce(sum(duration_seconds), 0)::int as duration, avg(duration_seconds)::float8 as average
     from calls where ${where}`,
    [tenantId, from, to],
  );
  const statuses = await sql(`select status::text, count(*)::int as calls from calls where ${where} group by status`, [tenantId, from, to]);
  const days = await sql(
    `select to_char((started_at at time zone 'UTC')::date, 'YYYY-MM-DD') as date, count(*)::int as calls
     from calls where ${where} group by 1 order by 1`,
    [tenantId, from, to],
  );
  return {
    total: totals.rows[0].total as number,
    duration: totals.rows[0].duration as number,
    average: totals.rows[0].average as number | null,
    byStatus: Object.fromEntries(statuses.rows.map((row) => [row.status, row.calls])) as Partial<Record<Status, number>>,
    days: Object.fromEntries(days.rows.map((row) => [row.date, row.calls])) as Record<string, number>,
  };
}

async function tenantWithNumber() {
  const tenant = await createTenant();
  const phone = await createPhoneNumber(tenant.id);
  return { tenant, phone };
}

describe('GET /api/tenants/{tenant_id}/calls/stats', () => {
  // Four UTC days, 2026-03-01 to 2026-03-04; `to` is midnight of 03-05, excluded.
  const FROM = '2026-03-01T00:00:00Z';
  const TO = '2026-03-05T00:00:00Z';
  let tenantId: string;
  let otherTenantId: string;

  beforeAll(async () => {
    const { tenant, phone } = await tenantWithNumber();
    tenantId = tenant.id;
    const calls: Parameters<typeof insertCall>[2][] = [
      { started_at: '2026-02-28T23:59:59.999Z', status: 'ended', duration_seconds: 1000 }, // just before `from`
      { started_at: '2026-03-01T00:00:00Z', status: 'ended', duration_seconds: 60 }, // exactly at `from`
      { started_at: '2026-03-01T12:00:00Z', status: 'failed', duration_seconds: 0 },
      { started_at: '2026-03-01T23:59:59Z', status: 'answered' }, // no duration
      { started_at: '2026-03-02T00:00:00Z', status: 'ended', duration_seconds: 45 },
      // 2026-03-03: no calls
      { started_at: '2026-03-04T08:00:00Z', status: 'initiated' },
      { started_at: '2026-03-04T23:59:59.999Z', status: 'ringing' },
      { started_at: '2026-03-05T00:00:00Z', status: 'ended', duration_seconds: 2000 }, // exactly at `to`
    ];
    for (const call of calls) await insertCall(tenant.id, phone, call);

    // Another tenant, busy in the same period: never counted.
    const other = await tenantWithNumber();
    otherTenantId = other.tenant.id;
    for (const started_at of ['2026-03-01T00:00:00Z', '2026-03-02T10:00:00Z', '2026-03-03T10:00:00Z', '2026-03-04T10:00:00Z']) {
      await insertCall(other.tenant.id, other.phone, { started_at, status: 'ended', duration_seconds: 500 });
    }
  });

  it('counts the calls started in [from, to), by status, with talk time and calls per UTC day', async () => {
    expect(await stats(tenantId, { from: FROM, to: TO })).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-05T00:00:00.000Z',
      total_calls: 6,
      by_status: { initiated: 1, ringing: 1, answered: 1, ended: 2, failed: 1 },
      total_duration_seconds: 105,
      average_duration_seconds: 35, // (60 + 0 + 45) / 3: the calls without a duration are not averaged
      per_day: [
        { date: '2026-03-01', calls: 3 },
        { date: '2026-03-02', calls: 1 },
        { date: '2026-03-03', calls: 0 },
        { date: '2026-03-04', calls: 2 },
      ],
    });
  });

  it('agrees with a direct SQL aggregate of the same rows', async () => {
    const body = await stats(tenantId, { from: FROM, to: TO });
    const expected = await sqlAggregate(tenantId, FROM, TO);

    expect(body.total_calls).toBe(expected.total);
    expect(body.by_status).toEqual(byStatus(expected.byStatus));
    expect(body.total_duration_seconds).toBe(expected.duration);
    expect(body.average_duration_seconds).toBeCloseTo(expected.average as number, 2);
    expect(body.per_day.filter((day) => day.calls > 0)).toEqual(Object.entries(expected.days).map(([date, calls]) => ({ date, calls })));
    expect(body.per_day.reduce((sum, day) => sum + day.calls, 0)).toBe(expected.total);
  });

  it("never counts another tenant's calls in the same period", async () => {
    const body = await stats(otherTenantId, { from: FROM, to: TO });
    expect(body.total_calls).toBe(4);
    expect(body.by_status).toEqual(byStatus({ ended: 4 }));
    expect(body.total_duration_seconds).toBe(2000);
    expect(body.per_day.map((day) => day.calls)).toEqual([1, 1, 1, 1]);
    // And the first tenant's figures are only its own (checked in full above): 6 calls, 105 s.
    const mine = await stats(tenantId, { from: FROM, to: TO });
    expect([mine.total_calls, mine.total_duration_seconds]).toEqual([6, 105]);
  });

  it('lists every UTC day of a range that does not start or end at midnight, counting only the calls inside it', async () => {
    const body = await stats(tenantId, { from: '2026-03-01T12:00:00Z', to: '2026-03-04T06:00:00Z' });
    expect(body.per_day).toEqual([
      { date: '2026-03-01', calls: 2 }, // 12:00 (at `from`) and 23:59:59; not 00:00
      { date: '2026-03-02', calls: 1 },
      { date: '2026-03-03', calls: 0 },
      { date: '2026-03-04', calls: 0 }, // 08:00 is after `to`
    ]);
    expect(body.total_calls).toBe(3);
    expect(body.by_status).toEqual(byStatus({ failed: 1, answered: 1, ended: 1 }));
    expect(body.total_duration_seconds).toBe(45);
    expect(body.average_duration_seconds).toBe(22.5);
  });

  it('reads from and to with a UTC offset as the same instants and echoes them in UTC', async () => {
    const body = await stats(tenantId, { from: '2026-03-01T05:30:00+05:30', to: '2026-03-04T19:00:00-05:00' });
    expect(body.from).toBe('2026-03-01T00:00:00.000Z');
    expect(body.to).toBe('2026-03-05T00:00:00.000Z');
    expect(body.total_calls).toBe(6);
    expect(body.per_day.map((day) => day.date)).toEqual(['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04']);
  });

  it('covers a single day for a one-day range, and a single second when asked', async () => {
    const day = await stats(tenantId, { from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z' });
    expect(day.per_day).toEqual([{ date: '2026-03-02', calls: 1 }]);
    expect(day.total_calls).toBe(1);

    const second = await stats(tenantId, { from: '2026-03-01T00:00:00Z', to: '2026-03-01T00:00:01Z' });
    expect(second.total_calls).toBe(1);
    expect(second.by_status).toEqual(byStatus({ ended: 1 }));
    expect(second.per_day).toEqual([{ date: '2026-03-01', calls: 1 }]);
  });

  it('puts a call at 23:59:59Z and one at 00:00:00Z the next day on different days', async () => {
    const { tenant, phone } = await tenantWithNumber();
    await insertCall(tenant.id, phone, { started_at: '2026-06-10T23:59:59Z', status: 'ended', duration_seconds: 10 });
    await insertCall(tenant.id, phone, { started_at: '2026-06-11T00:00:00Z', status: 'ended', duration_seconds: 20 });

    const body = await stats(tenant.id, { from: '2026-06-10T00:00:00Z', to: '2026-06-12T00:00:00Z' });
    expect(body.per_day).toEqual([
      { date: '2026-06-10', calls: 1 },
      { date: '2026-06-11', calls: 1 },
    ]);
  });

  it('answers zeros, an empty talk time, a null average and every day for a tenant without calls', async () => {
    const tenant = await createTenant();
    expect(await stats(tenant.id, { from: '2026-03-01T00:00:00Z', to: '2026-03-03T00:00:00Z' })).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-03T00:00:00.000Z',
      total_calls: 0,
      by_status: byStatus(),
      total_duration_seconds: 0,
      average_duration_seconds: null,
      per_day: [
        { date: '2026-03-01', calls: 0 },
        { date: '2026-03-02', calls: 0 },
      ],
    });
  });

  it('answers a null average when none of the calls has a duration', async () => {
    const { tenant, phone } = await tenantWithNumber();
    await insertCall(tenant.id, phone, { started_at: '2026-04-01T10:00:00Z', status: 'initiated' });
    await insertCall(tenant.id, phone, { started_at: '2026-04-01T11:00:00Z', status: 'answered' });

    const body = await stats(tenant.id, { from: '2026-04-01T00:00:00Z', to: '2026-04-02T00:00:00Z' });
    expect(body.total_calls).toBe(2);
    expect(body.total_duration_seconds).toBe(0);
    expect(body.average_duration_seconds).toBeNull();
  });

  it('averages to a fraction when the talk times do not divide evenly', async () => {
    const { tenant, phone } = await tenantWithNumber();
    for (const duration_seconds of [10, 11, 11]) {
      await insertCall(tenant.id, phone, { started_at: '2026-04-01T10:00:00Z', status: 'ended', duration_seconds });
    }
    const body = await stats(tenant.id, { from: '2026-04-01T00:00:00Z', to: '2026-04-02T00:00:00Z' });
    expect(body.total_duration_seconds).toBe(32);
    expect(body.average_duration_seconds).toBeCloseTo(32 / 3, 2);
  });

  it('includes a call at a `from` with microseconds only if it started at or after that instant, as the calls list does', async () => {
    const { tenant, phone } = await tenantWithNumber();
    await insertCall(tenant.id, phone, { started_at: '2026-05-01T00:00:00.000000Z', status: 'ended', duration_seconds: 7 });
    await insertCall(tenant.id, phone, { started_at: '2026-05-01T00:00:00.000002Z', status: 'ended', duration_seconds: 9 });
    const query = { from: '2026-05-01T00:00:00.000001Z', to: '2026-05-01T00:00:01Z' };

    const listed = await api('GET', `/api/tenants/${tenant.id}/calls?${new URLSearchParams(query)}`);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(1);

    const body = await stats(tenant.id, query);
    expect(body.total_calls).toBe(1);
    expect(body.total_duration_seconds).toBe(9);
  });

  it('covers the last 30 days ending now by default', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const now = Date.now();
    const aMinuteAgo = new Date(now - 60_000).toISOString();
    await insertCall(tenant.id, phone, { started_at: aMinuteAgo, status: 'ended', duration_seconds: 12 });
    await insertCall(tenant.id, phone, { started_at: new Date(now - 29 * DAY_MS).toISOString(), status: 'failed', duration_seconds: 0 });
    await insertCall(tenant.id, phone, { started_at: new Date(now - 31 * DAY_MS).toISOString(), status: 'ended', duration_seconds: 99 });
    await insertCall(tenant.id, phone, { started_at: new Date(now + 3_600_000).toISOString(), status: 'initiated' });

    const body = await stats(tenant.id);
    const after = Date.now();

    expect(body.to).toMatch(ISO_UTC);
    expect(body.from).toMatch(ISO_UTC);
    expect(Date.parse(body.to)).toBeGreaterThanOrEqual(now - 5_000); // the Worker's clock is this machine's
    expect(Date.parse(body.to)).toBeLessThanOrEqual(after + 5_000);
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(30 * DAY_MS);

    expect(body.total_calls).toBe(2);
    expect(body.by_status).toEqual(byStatus({ ended: 1, failed: 1 }));
    expect(body.total_duration_seconds).toBe(12);
    expect(body.per_day.map((day) => day.date)).toEqual(utcDays(body.from, body.to));
    expect(body.per_day.find((day) => day.date === aMinuteAgo.slice(0, 10))?.calls).toBeGreaterThanOrEqual(1);
    expect(body.per_day.reduce((sum, day) => sum + day.calls, 0)).toBe(2);
  });

  it('covers the 30 days before `to` when only `to` is given', async () => {
    const body = await stats(tenantId, { to: TO });
    expect(body.from).toBe('2026-02-03T00:00:00.000Z');
    expect(body.to).toBe('2026-03-05T00:00:00.000Z');
    expect(body.per_day).toHaveLength(30);
    expect(body.total_calls).toBe(7); // the six of the period and the one just before it
  });

  it('accepts a range of exactly 366 days and lists all of them', async () => {
    const body = await stats(tenantId, { from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z' });
    expect(body.per_day).toHaveLength(366);
    expect(body.per_day[0]).toEqual({ date: '2024-01-01', calls: 0 });
    expect(body.per_day[59]?.date).toBe('2024-02-29');
    expect(body.per_day[365]).toEqual({ date: '2024-12-31', calls: 0 });
    expect(body.total_calls).toBe(0);
  });

  it('answers the stats of a deleted tenant, which stays readable', async () => {
    const { tenant, phone } = await tenantWithNumber();
    await insertCall(tenant.id, phone, { started_at: '2026-03-02T10:00:00Z', status: 'ended', duration_seconds: 5 });
    const deleted = await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'deleted' } });
    expect(deleted.status).toBe(200);

    const body = await stats(tenant.id, { from: FROM, to: TO });
    expect(body.total_calls).toBe(1);
  });

  describe('refuses a bad range', () => {
    it.each([
      ['from equal to to', { from: '2026-03-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }],
      ['from after to', { from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' }],
      ['the same instant written with two offsets', { from: '2026-03-01T05:30:00+05:30', to: '2026-03-01T00:00:00Z' }],
      ['only a from in the future', { from: new Date(Date.now() + DAY_MS).toISOString() }],
    ])('400 for %s', async (_name, query) => {
      const response = await api('GET', statsPath(tenantId, query));
      expect(response.status, response.text).toBe(400);
      expect(['invalid_range', 'validation_failed']).toContain(response.body.code);
      expectProblem(response, 400, response.body.code);
    });

    it.each([
      ['367 days', { from: '2025-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' }],
      ['366 days and a second', { from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:01Z' }],
      ['only a from more than 366 days ago', { from: '2020-01-01T00:00:00Z' }],
    ])('400 for a range of over 366 days: %s', async (_name, query) => {
      const response = await api('GET', statsPath(tenantId, query));
      expect(response.status, response.text).toBe(400);
      expect(['invalid_range', 'validation_failed']).toContain(response.body.code);
      const problem = expectProblem(response, 400, response.body.code);
      expect(problem.detail).toMatch(/366/);
    });

    it.each([
      'yesterday',
      '2026-13-01T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-03-01',
      '2026-03-01T00:00:00', // no offset: ambiguous
      '1614265330',
      '',
    ])('400 validation_failed naming `from` for a malformed from: %j', async (from) => {
      const response = await api('GET', statsPath(tenantId, { from, to: TO }));
      const problem = expectProblem(response, 400, 'validation_failed');
      expect(problem.errors?.map((error) => error.path)).toContain('from');
    });

    it('400 validation_failed naming `to` for a malformed to', async () => {
      const response = await api('GET', statsPath(tenantId, { from: FROM, to: 'tomorrow' }));
      const problem = expectProblem(response, 400, 'validation_failed');
      expect(problem.errors?.map((error) => error.path)).toContain('to');
    });
  });

  it('404 tenant_not_found for an unknown tenant', async () => {
    expectProblem(await api('GET', statsPath(UNKNOWN_ID, { from: FROM, to: TO })), 404, 'tenant_not_found');
    expectProblem(await api('GET', statsPath(randomUUID())), 404, 'tenant_not_found');
  });

  it('404 tenant_not_found for a tenant id that is not a UUID', async () => {
    expectProblem(await api('GET', statsPath('not-a-uuid')), 404, 'tenant_not_found');
    expectProblem(await api('GET', statsPath(`${tenantId}x`)), 404, 'tenant_not_found');
  });

  it('401 without a token, and with a wrong one', async () => {
    const missing = await api('GET', statsPath(tenantId), { token: null });
    expectProblem(missing, 401, 'unauthorized');
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(missing.text).not.toContain('total_calls');
    expectProblem(await api('GET', statsPath(tenantId), { token: 'not-an-operator-token' }), 401, 'unauthorized');
  });

  it('is not taken for a call id: /calls/stats answers stats, and /calls/{call_id} still answers the call', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone, { started_at: new Date(Date.now() - 60_000).toISOString() });

    const response = await api('GET', `/api/tenants/${tenant.id}/calls/stats`);
    expect(response.status, response.text).toBe(200);
    expect(response.body).toMatchObject({ total_calls: 1, by_status: byStatus({ initiated: 1 }) });

    const call = await api('GET', `/api/tenants/${tenant.id}/calls/${callId}`);
    expect(call.status).toBe(200);
    expect(call.body.id).toBe(callId);
  });
});

describe('stats of calls recorded through the telephony ingest', () => {
  it('counts inbound calls and their endings: initiated, ended with talk time, failed', async () => {
    const tenant = await createTenant();
    const phone = await createPhoneNumber(tenant.id);
    const profile = await createAiProfile(tenant.id, { is_default: true });
    const before = new Date(Date.now() - 1000).toISOString();

    const [answeredCall, failedCall, initiatedCall] = ['1', '2', '3'].map(
      (n) => `${Math.floor(Date.now() / 1000)}.${randomUUID().slice(0, 6)}${n}`,
    ) as [string, string, string];
    for (const call_id of [answeredCall, failedCall, initiatedCall]) {
      const inbound = await sendInbound(phone.did_number, { call_id });
      expect(inbound.status, inbound.text).toBe(200);
      expect(inbound.body).toMatchObject({
        status: 'success',
        tenant_id: tenant.id,
        phone_number_id: phone.id,
        ai_profile: { id: profile.id },
      });
    }

    const ended = await sendCallEnded(answeredCall, phone.did_number, { duration_seconds: 30, hangup_cause: 16 });
    expect(ended.status, ended.text).toBe(200);
    expect(ended.body).toMatchObject({ status: 'success', call_status: 'ended' });
    const failed = await sendCallEnded(failedCall, phone.did_number, { duration_seconds: 0, hangup_cause: 17 });
    expect(failed.status, failed.text).toBe(200);
    expect(failed.body).toMatchObject({ status: 'success', call_status: 'failed' });

    const body = await stats(tenant.id);
    expect(body.total_calls).toBe(3);
    expect(body.by_status).toEqual(byStatus({ initiated: 1, ended: 1, failed: 1 }));
    expect(body.total_duration_seconds).toBe(30);
    expect(body.average_duration_seconds).toBe(15); // (30 + 0) / 2; the initiated call has no duration yet
    expect(body.per_day.reduce((sum, day) => sum + day.calls, 0)).toBe(3);

    // The same through an explicit range around the calls, and against the rows themselves.
    const to = new Date(Date.now() + 1000).toISOString();
    const explicit = await stats(tenant.id, { from: before, to });
    const expected = await sqlAggregate(tenant.id, explicit.from, explicit.to);
    expect(explicit.total_calls).toBe(expected.total);
    expect(explicit.by_status).toEqual(byStatus(expected.byStatus));
    expect(explicit.total_duration_seconds).toBe(expected.duration);
  });
});
