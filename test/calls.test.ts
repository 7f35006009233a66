import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, createAiProfile, createPhoneNumber, createTenant, expectProblem, insertCall, sql } from './support/api.ts';
import { findLogEntry } from './support/worker-log.ts';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const CALL_FIELDS = [
  'ai_profile_id',
  'answered_at',
  'called_number',
  'caller_number',
  'carrier',
  'created_at',
  'direction',
  'duration_seconds',
  'ended_at',
  'external_call_id',
  'hangup_cause',
  'id',
  'phone_number_id',
  'session_end_reason',
  'session_ended_at',
  'session_started_at',
  'started_at',
  'status',
  'tenant_id',
  'updated_at',
];

async function tenantWithNumber() {
  const tenant = await createTenant();
  const phone = await createPhoneNumber(tenant.id);
  return { tenant, phone };
}

function callsPath(tenantId: string, query: Record<string, string> = {}) {
  const search = new URLSearchParams(query).toString();
  return `/api/tenants/${tenantId}/calls${search ? `?${search}` : ''}`;
}

/** The ids of one page of a tenant's calls (asserting a 200). */
async function listIds(tenantId: string, query: Record<string, string> = {}) {
  const response = await api('GET', callsPath(tenantId, query));
  expect(response.status, response.text).toBe(200);
  return (response.body.data as { id: string }[]).map((call) => call.id);
}

describe('GET /api/tenants/{tenant_id}/calls', () => {
  it('lists calls newest first by creation time, not by start time', async () => {
    const { tenant, phone } = await tenantWithNumber();
    // Inserted oldest first, but started in the opposite order: the list follows created_at.
    const first = await insertCall(tenant.id, phone, { started_at: '2026-01-03T10:00:00Z' });
    const second = await insertCall(tenant.id, phone, { started_at: '2026-01-02T10:00:00Z' });
    const third = await insertCall(tenant.id, phone, { started_at: '2026-01-01T10:00:00Z' });

    const response = await api('GET', callsPath(tenant.id));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body.data.map((call: { id: string }) => call.id)).toEqual([third, second, first]);
    expect(response.body.next_cursor).toBeNull();
  });

  it('answers an empty page for a tenant without calls', async () => {
    const tenant = await createTenant();
    const response = await api('GET', callsPath(tenant.id));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ data: [], next_cursor: null });
  });

  it('returns every call field with the right types, nulls for what has not happened yet', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const profile = await createAiProfile(tenant.id);
    const id = await insertCall(tenant.id, phone, {
      status: 'ringing',
      direction: 'inbound',
      started_at: '2026-01-01T10:00:00Z',
      ai_profile_id: profile.id,
      caller_number: '+14155550123',
      duration_seconds: 42,
    });
    const { rows } = await sql('select external_call_id, created_at, updated_at from calls where id = $1', [id]);
    const stored = rows[0];

    const response = await api('GET', callsPath(tenant.id));
    expect(response.status).toBe(200);
    expect(response.body.data).toHaveLength(1);
    const call = response.body.data[0];
    expect(Object.keys(call).sort()).toEqual(CALL_FIELDS);
    expect(call).toMatchObject({
      id,
      tenant_id: tenant.id,
      phone_number_id: phone.id,
      ai_profile_id: profile.id,
      direction: 'inbound',
      status: 'ringing',
      caller_number: '+14155550123',
      called_number: phone.did_number,
      external_call_id: stored.external_call_id,
      carrier: 'generic',
      started_at: '2026-01-01T10:00:00.000Z',
      answered_at: null,
      ended_at: null,
      duration_seconds: 42,
      hangup_cause: null,
      session_started_at: null,
      session_ended_at: null,
      session_end_reason: null,
    });
    expect(call.id).toMatch(UUID);
    expect(call.created_at).toMatch(ISO_UTC);
    expect(call.updated_at).toMatch(ISO_UTC);
    expect(Math.abs(Date.parse(call.created_at) - stored.created_at.getTime())).toBeLessThanOrEqual(1);
    expect(Math.abs(Date.parse(call.updated_at) - stored.updated_at.getTime())).toBeLessThanOrEqual(1);
  });

  it('returns a call without a profile, caller or duration with nulls for them', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const id = await insertCall(tenant.id, phone);
    await sql('update calls set caller_number = null where id = $1', [id]);

    const response = await api('GET', callsPath(tenant.id));
    const [call] = response.body.data;
    expect(Object.keys(call).sort()).toEqual(CALL_FIELDS);
    expect(call).toMatchObject({
      id,
      ai_profile_id: null,
      caller_number: null,
      duration_seconds: null,
      hangup_cause: null,
      answered_at: null,
      ended_at: null,
      direction: 'inbound',
      status: 'initiated',
    });
    expect(call.started_at).toMatch(ISO_UTC);
  });

  it('formats answered_at and ended_at as ISO UTC once the call has them', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const id = await insertCall(tenant.id, phone, { status: 'ended', started_at: '2026-01-01T10:00:00Z', duration_seconds: 65 });
    await sql(
      `update calls set answered_at = '2026-01-01 15:30:05.250+05:30', ended_at = '2026-01-01T10:01:10Z', hangup_cause = 16 where id = $1`,
      [id],
    );

    const response = await api('GET', callsPath(tenant.id));
    expect(response.body.data[0]).toMatchObject({
      id,
      status: 'ended',
      started_at: '2026-01-01T10:00:00.000Z',
      answered_at: '2026-01-01T10:00:05.250Z',
      ended_at: '2026-01-01T10:01:10.000Z',
      duration_seconds: 65,
      hangup_cause: 16,
    });
  });

  it('tells whether an AI session ran, when, and why it ended', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const id = await insertCall(tenant.id, phone, { status: 'ended', started_at: '2026-01-01T10:00:00Z' });
    await sql(
      `update calls set session_started_at = '2026-01-01T10:00:01.5Z', session_ended_at = '2026-01-01 15:40:00+05:30',
         session_end_reason = 'time_limit' where id = $1`,
      [id],
    );
    const response = await api('GET', `/api/tenants/${tenant.id}/calls/${id}`);
    expect(response.body).toMatchObject({
      session_started_at: '2026-01-01T10:00:01.500Z',
      session_ended_at: '2026-01-01T10:10:00.000Z',
      session_end_reason: 'time_limit',
    });
    const list = await api('GET', callsPath(tenant.id));
    expect(list.body.data[0]).toEqual(response.body);
  });

  describe('filters', () => {
    // One tenant, five calls around the window [10:00, 12:00) on 2026-01-01, inserted in this order.
    let tenantId: string;
    const ids = {} as Record<'beforeFrom' | 'atFrom' | 'middle' | 'justBeforeTo' | 'atTo', string>;

    beforeAll(async () => {
      const { tenant, phone } = await tenantWithNumber();
      tenantId = tenant.id;
      ids.beforeFrom = await insertCall(tenant.id, phone, {
        started_at: '2026-01-01T09:59:59.999Z',
        direction: 'inbound',
        status: 'answered',
      });
      ids.atFrom = await insertCall(tenant.id, phone, { started_at: '2026-01-01T10:00:00Z', direction: 'inbound', status: 'ended' });
      ids.middle = await insertCall(tenant.id, phone, { started_at: '2026-01-01T11:00:00Z', direction: 'outbound', status: 'ended' });
      ids.justBeforeTo = await insertCall(tenant.id, phone, {
        started_at: '2026-01-01T11:59:59.999Z',
        direction: 'outbound',
        status: 'failed',
      });
      ids.atTo = await insertCall(tenant.id, phone, { started_at: '2026-01-01T12:00:00Z', direction: 'inbound', status: 'ended' });
    });

    it('keeps only calls with the given status', async () => {
      expect(await listIds(tenantId, { status: 'ended' })).toEqual([ids.atTo, ids.middle, ids.atFrom]);
      expect(await listIds(tenantId, { status: 'failed' })).toEqual([ids.justBeforeTo]);
      expect(await listIds(tenantId, { status: 'ringing' })).toEqual([]);
    });

    it('keeps only calls in the given direction', async () => {
      expect(await listIds(tenantId, { direction: 'outbound' })).toEqual([ids.justBeforeTo, ids.middle]);
      expect(await listIds(tenantId, { direction: 'inbound' })).toEqual([ids.atTo, ids.atFrom, ids.beforeFrom]);
    });

    it('includes a call that started exactly at `from` and excludes one that started exactly at `to`', async () => {
      expect(await listIds(tenantId, { from: '2026-01-01T10:00:00Z', to: '2026-01-01T12:00:00Z' })).toEqual([
        ids.justBeforeTo,
        ids.middle,
        ids.atFrom,
      ]);
    });

    it('applies `from` alone as an inclusive lower bound and `to` alone as an exclusive upper bound', async () => {
      expect(await listIds(tenantId, { from: '2026-01-01T10:00:00Z' })).toEqual([ids.atTo, ids.justBeforeTo, ids.middle, ids.atFrom]);
      expect(await listIds(tenantId, { to: '2026-01-01T12:00:00Z' })).toEqual([ids.justBeforeTo, ids.middle, ids.atFrom, ids.beforeFrom]);
      expect(await listIds(tenantId, { from: '2026-01-01T12:00:00.001Z' })).toEqual([]);
    });

    it('reads `from` and `to` with a UTC offset as the same instants', async () => {
      // 15:30+05:30 is 10:00Z and 17:30+05:30 is 12:00Z.
      expect(await listIds(tenantId, { from: '2026-01-01T15:30:00+05:30', to: '2026-01-01T17:30:00+05:30' })).toEqual([
        ids.justBeforeTo,
        ids.middle,
        ids.atFrom,
      ]);
    });

    it('combines status, direction and the time window', async () => {
      const window = { from: '2026-01-01T10:00:00Z', to: '2026-01-01T12:00:00Z' };
      expect(await listIds(tenantId, { ...window, status: 'ended', direction: 'outbound' })).toEqual([ids.middle]);
      expect(await listIds(tenantId, { ...window, status: 'ended' })).toEqual([ids.middle, ids.atFrom]);
      expect(await listIds(tenantId, { ...window, direction: 'inbound' })).toEqual([ids.atFrom]);
      expect(await listIds(tenantId, { status: 'ended', direction: 'inbound', from: '2026-01-01T10:00:00Z' })).toEqual([
        ids.atTo,
        ids.atFrom,
      ]);
      expect(await listIds(tenantId, { ...window, status: 'answered' })).toEqual([]);
    });

    it('pages through a filtered list without losing or repeating calls', async () => {
      const first = await api('GET', callsPath(tenantId, { status: 'ended', limit: '2' }));
      expect(first.body.data.map((call: { id: string }) => call.id)).toEqual([ids.atTo, ids.middle]);
      expect(first.body.next_cursor).toEqual(expect.any(String));
      const second = await api('GET', callsPath(tenantId, { status: 'ended', limit: '2', cursor: first.body.next_cursor }));
      expect(second.body.data.map((call: { id: string }) => call.id)).toEqual([ids.atFrom]);
      expect(second.body.next_cursor).toBeNull();
    });

    it.each([
      [{ status: 'bogus' }, 'status'],
      [{ direction: 'sideways' }, 'direction'],
      [{ from: 'yesterday' }, 'from'],
      [{ to: 'tomorrow' }, 'to'],
      [{ from: '2026-13-45T10:00:00Z' }, 'from'],
      [{ from: '2026-01-01T10:00:00Z', to: '2026-01-01T10:00:00Z' }, 'to'],
      [{ from: '2026-01-01T12:00:00Z', to: '2026-01-01T10:00:00Z' }, 'to'],
    ])('rejects %j with 400 validation_failed naming %s', async (query, path) => {
      const problem = expectProblem(await api('GET', callsPath(tenantId, query)), 400, 'validation_failed');
      expect(problem.errors?.map((error) => error.path)).toContain(path);
    });

    it('rejects a cursor it did not issue', async () => {
      expectProblem(await api('GET', callsPath(tenantId, { cursor: 'garbage' })), 400, 'invalid_cursor');
    });

    it.each(['2026-13-45 00:00:00', '2026-02-30 00:00:00', '2026-01-01 25:61:61', '0000-01-01 00:00:00'])(
      'rejects a well-formed cursor holding the impossible time %s with 400 invalid_cursor, not a server error',
      async (time) => {
        const forged = Buffer.from(JSON.stringify({ c: time, i: randomUUID() })).toString('base64url');
        expectProblem(await api('GET', callsPath(tenantId, { cursor: forged })), 400, 'invalid_cursor');
      },
    );

    it.each([
      ['from', '0000-01-01T00:00:00Z'],
      ['from', '0001-01-01T00:30:00+01:00'],
      ['to', '0000-06-01T00:00:00Z'],
    ] as const)('answers %s=%s, an instant before year 1, without a server error', async (param, value) => {
      // Either refused as a bad query parameter, or applied: nothing starts before year 1.
      const response = await api('GET', callsPath(tenantId, { [param]: value }));
      expect(response.status, response.text).not.toBe(500);
      if (response.status === 400) {
        const problem = expectProblem(response, 400, 'validation_failed');
        expect(problem.errors?.map((error) => error.path)).toContain(param);
      } else {
        expect(response.status).toBe(200);
        const returned = response.body.data.map((call: { id: string }) => call.id);
        expect(returned).toEqual(param === 'from' ? [ids.atTo, ids.justBeforeTo, ids.middle, ids.atFrom, ids.beforeFrom] : []);
      }
    });
  });

  describe('sub-millisecond bounds', () => {
    // The database keeps started_at to the microsecond; a bound given to the microsecond must be
    // applied as given (or refused), never rounded to a millisecond that moves a call across it.
    let tenantId: string;
    let callId: string;

    beforeAll(async () => {
      const { tenant, phone } = await tenantWithNumber();
      tenantId = tenant.id;
      callId = await insertCall(tenant.id, phone, { started_at: '2026-01-01T10:00:00.000200Z' });
    });

    it('never includes a call that started before a sub-millisecond `from`', async () => {
      const response = await api('GET', callsPath(tenantId, { from: '2026-01-01T10:00:00.000500Z' }));
      if (response.status === 400) expectProblem(response, 400, 'validation_failed');
      else {
        expect(response.status).toBe(200);
        expect(response.body.data.map((call: { id: string }) => call.id)).toEqual([]);
      }
    });

    it('never excludes a call that started before a sub-millisecond `to`', async () => {
      const response = await api('GET', callsPath(tenantId, { to: '2026-01-01T10:00:00.000500Z' }));
      if (response.status === 400) expectProblem(response, 400, 'validation_failed');
      else {
        expect(response.status).toBe(200);
        expect(response.body.data.map((call: { id: string }) => call.id)).toEqual([callId]);
      }
    });
  });

  it('follows next_cursor through 7 calls 3 at a time, each call exactly once and in order', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const inserted: string[] = [];
    for (let i = 0; i < 7; i++) inserted.push(await insertCall(tenant.id, phone, { started_at: `2026-01-01T10:0${i}:00Z` }));

    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = cursor ? { limit: '3', cursor } : { limit: '3' };
      const page = await api('GET', callsPath(tenant.id, query));
      expect(page.status).toBe(200);
      pages.push(page.body.data.map((call: { id: string }) => call.id));
      cursor = page.body.next_cursor;
    } while (cursor && pages.length < 10);

    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    expect(cursor).toBeNull();
    expect(pages.flat()).toEqual([...inserted].reverse());
  });

  it('answers next_cursor null when the last page is exactly full', async () => {
    const { tenant, phone } = await tenantWithNumber();
    for (let i = 0; i < 3; i++) await insertCall(tenant.id, phone);
    const page = await api('GET', callsPath(tenant.id, { limit: '3' }));
    expect(page.body.data).toHaveLength(3);
    expect(page.body.next_cursor).toBeNull();
  });

  it('returns only this tenant’s calls even with a cursor taken from another tenant’s list', async () => {
    const mine = await tenantWithNumber();
    const theirs = await tenantWithNumber();
    const myCalls: string[] = [];
    for (let i = 0; i < 3; i++) myCalls.push(await insertCall(mine.tenant.id, mine.phone));
    const theirCalls: string[] = [];
    for (let i = 0; i < 3; i++) theirCalls.push(await insertCall(theirs.tenant.id, theirs.phone));

    const theirPage = await api('GET', callsPath(theirs.tenant.id, { limit: '1' }));
    expect(theirPage.body.next_cursor).toEqual(expect.any(String));

    const response = await api('GET', callsPath(mine.tenant.id, { cursor: theirPage.body.next_cursor }));
    expect(response.status).toBe(200);
    for (const call of response.body.data) expect(call.tenant_id).toBe(mine.tenant.id);
    const ids = response.body.data.map((call: { id: string }) => call.id);
    // Their newest call was created after all of mine, so the cursor points past every one of mine.
    expect(ids).toEqual([...myCalls].reverse());
    for (const id of theirCalls) expect(ids).not.toContain(id);
  });

  it('answers 404 tenant_not_found for an unknown or malformed tenant', async () => {
    expectProblem(await api('GET', callsPath(UNKNOWN_ID)), 404, 'tenant_not_found');
    expectProblem(await api('GET', callsPath(randomUUID())), 404, 'tenant_not_found');
    expectProblem(await api('GET', '/api/tenants/not-a-uuid/calls'), 404, 'tenant_not_found');
  });
});

describe('GET /api/tenants/{tenant_id}/calls/{call_id}', () => {
  it('returns the call with the same fields as the list', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const id = await insertCall(tenant.id, phone, { status: 'answered', direction: 'outbound', started_at: '2026-02-01T08:30:00Z' });

    const response = await api('GET', `/api/tenants/${tenant.id}/calls/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(response.body).sort()).toEqual(CALL_FIELDS);
    expect(response.body).toMatchObject({
      id,
      tenant_id: tenant.id,
      phone_number_id: phone.id,
      status: 'answered',
      direction: 'outbound',
      called_number: phone.did_number,
      started_at: '2026-02-01T08:30:00.000Z',
      answered_at: null,
      ended_at: null,
    });

    const list = await api('GET', callsPath(tenant.id));
    expect(list.body.data[0]).toEqual(response.body);
  });

  it('answers 404 call_not_found for an unknown call id', async () => {
    const { tenant } = await tenantWithNumber();
    const problem = expectProblem(await api('GET', `/api/tenants/${tenant.id}/calls/${randomUUID()}`), 404, 'call_not_found');
    expect(problem.type).toBe('urn:vca:problem:call_not_found');
  });

  it('answers 404 call_not_found for a call id that is not a UUID', async () => {
    const { tenant } = await tenantWithNumber();
    expectProblem(await api('GET', `/api/tenants/${tenant.id}/calls/not-a-uuid`), 404, 'call_not_found');
    expectProblem(await api('GET', `/api/tenants/${tenant.id}/calls/12345`), 404, 'call_not_found');
  });

  it('answers 404 tenant_not_found when the tenant does not exist, even for a real call id', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const id = await insertCall(tenant.id, phone);
    expectProblem(await api('GET', `/api/tenants/${UNKNOWN_ID}/calls/${id}`), 404, 'tenant_not_found');
    expectProblem(await api('GET', `/api/tenants/${randomUUID()}/calls/${randomUUID()}`), 404, 'tenant_not_found');
  });
});

describe('calls are read-only', () => {
  let tenantId: string;
  let callId: string;
  let before: unknown;

  beforeAll(async () => {
    const { tenant, phone } = await tenantWithNumber();
    tenantId = tenant.id;
    callId = await insertCall(tenant.id, phone, { status: 'ringing' });
    before = (await sql('select to_jsonb(c) as row from calls c where id = $1', [callId])).rows[0].row;
  });

  it.each([
    ['POST', 'list', { status: 'ended' }],
    ['PUT', 'list', { status: 'ended' }],
    ['PATCH', 'list', { status: 'ended' }],
    ['DELETE', 'list', undefined],
    ['POST', 'item', { status: 'ended' }],
    ['PUT', 'item', { status: 'ended' }],
    ['PATCH', 'item', { status: 'ended' }],
    ['DELETE', 'item', undefined],
    ['POST', 'transcript', { turns: [] }],
    ['PUT', 'transcript', { turns: [] }],
    ['PATCH', 'transcript', { summary: 'Rewritten.' }],
    ['DELETE', 'transcript', undefined],
  ] as const)('answers %s on the call %s path with 405 and an Allow header offering only reads', async (method, which, body) => {
    const path = {
      list: `/api/tenants/${tenantId}/calls`,
      item: `/api/tenants/${tenantId}/calls/${callId}`,
      transcript: `/api/tenants/${tenantId}/calls/${callId}/transcript`,
    }[which];
    const response = await api(method, path, { body });
    const problem = expectProblem(response, 405, 'method_not_allowed');
    expect(problem.detail).toContain(method);
    const allow = (response.headers.get('allow') ?? '').split(',').map((m) => m.trim());
    expect(allow).toContain('GET');
    for (const write of ['POST', 'PUT', 'PATCH', 'DELETE']) expect(allow).not.toContain(write);

    const after = (await sql('select to_jsonb(c) as row from calls c where id = $1', [callId])).rows[0]?.row;
    expect(after).toEqual(before);
  });

  it.each(['list', 'item'] as const)(
    'answers GET on the call %s path with a trailing slash with 200 or 404, not a 405 whose Allow lists GET',
    async (which) => {
      const path = which === 'list' ? `/api/tenants/${tenantId}/calls/` : `/api/tenants/${tenantId}/calls/${callId}/`;
      const response = await api('GET', path);
      // Served like the path without the slash, or not found; a 405 whose Allow includes GET contradicts itself.
      expect([200, 404], `${response.status} ${response.headers.get('allow')} ${response.text}`).toContain(response.status);
      if (response.status === 404)
        expect(['route_not_found', 'call_not_found']).toContain(expectProblem(response, 404, response.body.code).code);
    },
  );
});

describe('GET /api/tenants/{tenant_id}/calls/{call_id}/transcript', () => {
  const transcriptPath = (tenantId: string, callId: string) => `/api/tenants/${tenantId}/calls/${callId}/transcript`;
  const turns = [
    { role: 'agent', text: 'Hello, Acme Dental.', offset_ms: 150 },
    { role: 'caller', text: 'Can I move my appointment? मेरा अपॉइंटमेंट', offset_ms: 2_300 },
  ];

  async function insertTranscript(tenantId: string, callId: string, summary: string | null) {
    await sql('insert into call_transcripts (call_id, tenant_id, turns, summary) values ($1, $2, $3, $4)', [
      callId,
      tenantId,
      JSON.stringify(turns),
      summary,
    ]);
  }

  it('answers the turns in order and the summary', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const id = await insertCall(tenant.id, phone, { status: 'ended' });
    await insertTranscript(tenant.id, id, 'The caller moved an appointment.');

    const response = await api('GET', transcriptPath(tenant.id, id));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.body).toEqual({ call_id: id, turns, summary: 'The caller moved an appointment.' });
  });

  it('answers a call without a transcript yet with no turns and no summary', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const id = await insertCall(tenant.id, phone, { status: 'answered' });
    const response = await api('GET', transcriptPath(tenant.id, id));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ call_id: id, turns: [], summary: null });
  });

  it('answers a transcript without a summary with summary null', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const id = await insertCall(tenant.id, phone, { status: 'ended' });
    await insertTranscript(tenant.id, id, null);
    expect((await api('GET', transcriptPath(tenant.id, id))).body).toEqual({ call_id: id, turns, summary: null });
  });

  it('answers 404 call_not_found for another tenant’s call, an unknown call and a call id that is not a UUID', async () => {
    const mine = await tenantWithNumber();
    const theirs = await tenantWithNumber();
    const theirCall = await insertCall(theirs.tenant.id, theirs.phone, { status: 'ended' });
    await insertTranscript(theirs.tenant.id, theirCall, 'Their confidential summary.');

    const foreign = await api('GET', transcriptPath(mine.tenant.id, theirCall));
    expectProblem(foreign, 404, 'call_not_found');
    expect(foreign.text).not.toContain('confidential');
    expect(foreign.text).not.toContain('Acme');
    expectProblem(await api('GET', transcriptPath(mine.tenant.id, randomUUID())), 404, 'call_not_found');
    expectProblem(await api('GET', transcriptPath(mine.tenant.id, 'not-a-uuid')), 404, 'call_not_found');
    expectProblem(await api('GET', transcriptPath(UNKNOWN_ID, theirCall)), 404, 'tenant_not_found');
    expectProblem(await api('GET', transcriptPath('not-a-uuid', theirCall)), 404, 'tenant_not_found');
  });

  it('answers 404 tenant_not_found to another tenant’s key, and the transcript to the tenant’s own', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const other = await createTenant();
    const id = await insertCall(tenant.id, phone, { status: 'ended' });
    await insertTranscript(tenant.id, id, 'Summary for the key test.');
    const issue = async (tenantId: string) =>
      (await api('POST', `/api/tenants/${tenantId}/api-keys`, { body: { name: 'Transcript reader' } })).body.key as string;

    const foreign = await api('GET', transcriptPath(tenant.id, id), { token: await issue(other.id) });
    expectProblem(foreign, 404, 'tenant_not_found');
    expect(foreign.text).not.toContain('Summary for the key test');
    const own = await api('GET', transcriptPath(tenant.id, id), { token: await issue(tenant.id) });
    expect(own.status).toBe(200);
    expect(own.body.summary).toBe('Summary for the key test.');
  });

  it('never writes a transcript or summary to the Worker’s log', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const id = await insertCall(tenant.id, phone, { status: 'ended' });
    const marker = `Marker ${randomUUID()}`;
    await sql('insert into call_transcripts (call_id, tenant_id, turns, summary) values ($1, $2, $3, $4)', [
      id,
      tenant.id,
      JSON.stringify([{ role: 'caller', text: marker, offset_ms: 0 }]),
      `${marker} summary`,
    ]);
    const requestId = `transcript-${randomUUID()}`;
    const response = await api('GET', transcriptPath(tenant.id, id), { headers: { 'x-request-id': requestId } });
    expect(response.text).toContain(marker);
    // Once the request's own line is in the log, nothing of the transcript is.
    const { entry, text } = await findLogEntry((line) => line.request_id === requestId);
    expect(entry).toMatchObject({ path: `/api/tenants/${tenant.id}/calls/${id}/transcript`, status: 200 });
    expect(text).not.toContain(marker);
  });
});
