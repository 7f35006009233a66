// The CallSession's records (worker/session/records.ts), run in Node against the real database as
// the Worker runs them: the Neon driver, the application role, row-level security. Set up through
// the API where it can be, checked behind the API's back with plain SQL.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../worker/lib/db.ts';
import {
  loadSessionContext,
  recordSessionEnded,
  recordSessionStarted,
  TRANSCRIPT_LIMITS,
  type TranscriptTurn,
} from '../worker/session/records.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, insertCall, sql } from './support/api.ts';
import { openAppDatabase } from './support/app-database.ts';

let db: Database;
let close: () => Promise<void>;

beforeAll(() => {
  ({ db, close } = openAppDatabase());
});
afterAll(() => close?.());

async function tenantWithNumber() {
  const tenant = await createTenant();
  const phone = await createPhoneNumber(tenant.id);
  return { tenant, phone };
}

/** The call row as stored, to the microsecond. */
async function callRow(id: string) {
  const { rows } = await sql('select to_jsonb(c) as row from calls c where id = $1', [id]);
  return rows[0]?.row as Record<string, unknown>;
}

async function transcriptRow(callId: string) {
  const { rows } = await sql('select to_jsonb(t) as row from call_transcripts t where call_id = $1', [callId]);
  return rows[0]?.row as { tenant_id: string; turns: TranscriptTurn[]; summary: string | null; updated_at: string } | undefined;
}

const T0 = new Date('2026-03-01T10:00:00.000Z');
const later = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

describe('loadSessionContext', () => {
  it('answers the call, its tenant and the profile it was routed to, with everything the session needs', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const routed = await createAiProfile(tenant.id, {
      name: 'Front desk',
      role: 'receptionist',
      system_prompt: 'You are the receptionist.',
      greeting: 'Hello, Acme Dental.',
      voice: 'marin',
      language: 'en-in',
      max_duration_seconds: 300,
    });
    await createAiProfile(tenant.id, { name: 'Other default', is_default: true });
    const callId = await insertCall(tenant.id, phone, { ai_profile_id: routed.id });
    const { rows } = await sql('select external_call_id from calls where id = $1', [callId]);

    expect(await loadSessionContext(db, tenant.id, callId)).toEqual({
      ok: true,
      tenantId: tenant.id,
      callId,
      externalCallId: rows[0].external_call_id,
      profile: {
        id: routed.id,
        name: 'Front desk',
        role: 'receptionist',
        systemPrompt: 'You are the receptionist.',
        greeting: 'Hello, Acme Dental.',
        voice: 'marin',
        language: 'en-IN',
        maxDurationSeconds: 300,
      },
      recorded: true,
    });
  });

  it('gives a call routed without a profile the tenant’s current default, with the profile defaults', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone);
    expect(await loadSessionContext(db, tenant.id, callId)).toEqual({ ok: false, reason: 'no_ai_profile' });

    await createAiProfile(tenant.id, { name: 'Not the default' });
    expect(await loadSessionContext(db, tenant.id, callId)).toEqual({ ok: false, reason: 'no_ai_profile' });

    const fallback = await createAiProfile(tenant.id, { name: 'Default desk', is_default: true });
    const context = await loadSessionContext(db, tenant.id, callId);
    expect(context).toMatchObject({
      ok: true,
      profile: { id: fallback.id, name: 'Default desk', greeting: null, voice: 'alloy', language: null, maxDurationSeconds: 600 },
    });
  });

  it('answers unknown_call for another tenant’s call, an unknown call or tenant, and ids that are not UUIDs', async () => {
    const mine = await tenantWithNumber();
    const theirs = await tenantWithNumber();
    await createAiProfile(mine.tenant.id, { is_default: true });
    await createAiProfile(theirs.tenant.id, { is_default: true, system_prompt: 'Their secret instructions.' });
    const theirCall = await insertCall(theirs.tenant.id, theirs.phone);

    for (const [tenantId, callId] of [
      [mine.tenant.id, theirCall],
      [mine.tenant.id, randomUUID()],
      [randomUUID(), theirCall],
      ['not-a-uuid', theirCall],
      [mine.tenant.id, 'not-a-uuid'],
      ['', ''],
      [`${theirs.tenant.id}'; --`, theirCall],
    ]) {
      expect(await loadSessionContext(db, tenantId as string, callId as string), `${tenantId} / ${callId}`).toEqual({
        ok: false,
        reason: 'unknown_call',
      });
    }
    expect((await loadSessionContext(db, theirs.tenant.id, theirCall)).ok).toBe(true);
  });

  it.each(['ended', 'failed'])('answers call_ended for a call that is %s', async (status) => {
    const { tenant, phone } = await tenantWithNumber();
    await createAiProfile(tenant.id, { is_default: true });
    const callId = await insertCall(tenant.id, phone, { status });
    expect(await loadSessionContext(db, tenant.id, callId)).toEqual({ ok: false, reason: 'call_ended' });
  });

  it('answers call_ended once the call’s session has ended, whatever its status', async () => {
    const { tenant, phone } = await tenantWithNumber();
    await createAiProfile(tenant.id, { is_default: true });
    const callId = await insertCall(tenant.id, phone, { status: 'answered' });
    await recordSessionEnded(db, tenant.id, callId, { at: T0, reason: 'model_failed', turns: [], summary: null });
    expect(await loadSessionContext(db, tenant.id, callId)).toEqual({ ok: false, reason: 'call_ended' });
  });

  it.each(['suspended', 'deleted'])('answers tenant_inactive for the call of a %s tenant', async (status) => {
    const { tenant, phone } = await tenantWithNumber();
    await createAiProfile(tenant.id, { is_default: true });
    const callId = await insertCall(tenant.id, phone);
    expect((await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status } })).status).toBe(200);
    expect(await loadSessionContext(db, tenant.id, callId)).toEqual({ ok: false, reason: 'tenant_inactive' });
  });
});

describe('loadSessionContext with the route a signed media request carries', () => {
  const route = (phone: { id: string }, aiProfileId: string | null, externalCallId = `1790000000.${randomUUID().slice(0, 6)}`) => ({
    phoneNumberId: phone.id,
    aiProfileId,
    externalCallId,
  });

  it('answers a call whose row has not arrived: the route’s profile, and that there is no row yet', async () => {
    const { tenant, phone } = await tenantWithNumber();
    await createAiProfile(tenant.id, { name: 'Default desk', is_default: true });
    const routed = await createAiProfile(tenant.id, { name: 'Night desk', greeting: 'Good evening.' });
    const callId = randomUUID();
    const signed = route(phone, routed.id);
    expect(await loadSessionContext(db, tenant.id, callId, signed)).toMatchObject({
      ok: true,
      tenantId: tenant.id,
      callId,
      externalCallId: signed.externalCallId,
      profile: { id: routed.id, name: 'Night desk', greeting: 'Good evening.' },
      recorded: false,
    });
    // Routed with no profile: the tenant's default now.
    expect(await loadSessionContext(db, tenant.id, callId, route(phone, null))).toMatchObject({
      ok: true,
      profile: { name: 'Default desk' },
      recorded: false,
    });
    // Without the route, the same call is unknown.
    expect(await loadSessionContext(db, tenant.id, callId)).toEqual({ ok: false, reason: 'unknown_call' });
  });

  it('refuses a route with another tenant’s number (unknown_call) or profile (no_ai_profile), and an inactive tenant', async () => {
    const mine = await tenantWithNumber();
    const theirs = await tenantWithNumber();
    const myProfile = await createAiProfile(mine.tenant.id, { is_default: true });
    const theirProfile = await createAiProfile(theirs.tenant.id, { is_default: true, system_prompt: 'Their secret instructions.' });
    const callId = randomUUID();
    expect(await loadSessionContext(db, mine.tenant.id, callId, route(theirs.phone, myProfile.id))).toEqual({
      ok: false,
      reason: 'unknown_call',
    });
    expect(await loadSessionContext(db, mine.tenant.id, callId, route(mine.phone, theirProfile.id))).toEqual({
      ok: false,
      reason: 'no_ai_profile',
    });
    expect(await loadSessionContext(db, randomUUID(), callId, route(mine.phone, myProfile.id))).toEqual({
      ok: false,
      reason: 'unknown_call',
    });
    for (const status of ['suspended', 'deleted']) {
      await api('PATCH', `/api/tenants/${mine.tenant.id}`, { body: { status } });
      expect(await loadSessionContext(db, mine.tenant.id, callId, route(mine.phone, myProfile.id))).toEqual({
        ok: false,
        reason: 'tenant_inactive',
      });
    }
  });

  it('takes a row that agrees with the route, and refuses one that does not (route_mismatch) or has ended', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const other = await createPhoneNumber(tenant.id);
    const profile = await createAiProfile(tenant.id, { is_default: true });
    const second = await createAiProfile(tenant.id, { name: 'Second' });
    const callId = await insertCall(tenant.id, phone, { ai_profile_id: profile.id });
    const { rows } = await sql('select external_call_id from calls where id = $1', [callId]);
    const agreeing = route(phone, profile.id, rows[0].external_call_id);
    expect(await loadSessionContext(db, tenant.id, callId, agreeing)).toMatchObject({
      ok: true,
      profile: { id: profile.id },
      recorded: true,
    });
    for (const disagreeing of [
      { ...agreeing, phoneNumberId: other.id },
      { ...agreeing, externalCallId: `${agreeing.externalCallId}-other` },
      { ...agreeing, aiProfileId: second.id },
      { ...agreeing, aiProfileId: null },
    ]) {
      expect(await loadSessionContext(db, tenant.id, callId, disagreeing)).toEqual({ ok: false, reason: 'route_mismatch' });
    }
    await sql(`update calls set status = 'ended' where id = $1`, [callId]);
    expect(await loadSessionContext(db, tenant.id, callId, agreeing)).toEqual({ ok: false, reason: 'call_ended' });
  });
});

describe('recordSessionStarted', () => {
  it('marks an initiated call answered, with the session’s start as its answer time, once', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone);
    await recordSessionStarted(db, tenant.id, callId, T0);
    const first = await callRow(callId);
    expect(first).toMatchObject({
      status: 'answered',
      session_started_at: '2026-03-01T10:00:00+00:00',
      answered_at: '2026-03-01T10:00:00+00:00',
      session_ended_at: null,
      session_end_reason: null,
    });

    await recordSessionStarted(db, tenant.id, callId, later(5));
    expect(await callRow(callId)).toMatchObject({
      status: 'answered',
      session_started_at: '2026-03-01T10:00:00+00:00',
      answered_at: '2026-03-01T10:00:00+00:00',
    });
  });

  it('moves a ringing call to answered and keeps an answer time the call already has', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone, { status: 'ringing' });
    await sql(`update calls set answered_at = '2026-03-01T09:59:58Z' where id = $1`, [callId]);
    await recordSessionStarted(db, tenant.id, callId, T0);
    expect(await callRow(callId)).toMatchObject({
      status: 'answered',
      answered_at: '2026-03-01T09:59:58+00:00',
      session_started_at: '2026-03-01T10:00:00+00:00',
    });
  });

  it.each(['ended', 'failed'])('never reopens a call that is already %s, nor gives it an answer time its end did not', async (status) => {
    // The end came first with talk time 0 (Asterisk: the caller gave up during ringback while the
    // session was still starting; seen on a real Asterisk 22.10.1): the call was never answered.
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone, { status });
    await recordSessionStarted(db, tenant.id, callId, T0);
    expect(await callRow(callId)).toMatchObject({ status, session_started_at: '2026-03-01T10:00:00+00:00', answered_at: null });
  });

  it('changes nothing for another tenant’s call, an unknown call, or ids that are not UUIDs, and says there was no row', async () => {
    const victim = await tenantWithNumber();
    const attacker = await tenantWithNumber();
    const callId = await insertCall(victim.tenant.id, victim.phone);
    const before = await callRow(callId);
    expect(await recordSessionStarted(db, attacker.tenant.id, callId, T0)).toBe(false);
    expect(await recordSessionStarted(db, randomUUID(), callId, T0)).toBe(false);
    expect(await recordSessionStarted(db, victim.tenant.id, randomUUID(), T0)).toBe(false);
    expect(await recordSessionStarted(db, 'not-a-uuid', 'also-not', T0)).toBe(false);
    expect(await callRow(callId)).toEqual(before);
    // The row there: written, also when it kept what it had.
    expect(await recordSessionStarted(db, victim.tenant.id, callId, T0)).toBe(true);
    expect(await recordSessionStarted(db, victim.tenant.id, callId, later(5))).toBe(true);
  });
});

describe('recordSessionEnded', () => {
  const turns: TranscriptTurn[] = [
    { role: 'agent', text: 'Hello, Acme Dental.', offset_ms: 120 },
    { role: 'caller', text: 'I would like to move my appointment. नमस्ते 👋', offset_ms: 2_400 },
    { role: 'agent', text: 'Of course.', offset_ms: 5_010 },
  ];

  it('records the end and the transcript, in order, under the call’s tenant', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone, { status: 'answered' });
    await recordSessionEnded(db, tenant.id, callId, { at: later(42), reason: 'caller_hung_up', turns, summary: 'Moved an appointment.' });

    expect(await callRow(callId)).toMatchObject({
      status: 'answered',
      session_ended_at: '2026-03-01T10:00:42+00:00',
      session_end_reason: 'caller_hung_up',
    });
    expect(await transcriptRow(callId)).toMatchObject({ tenant_id: tenant.id, turns, summary: 'Moved an appointment.' });
  });

  it('records an end without turns or summary: an empty transcript', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone);
    await recordSessionEnded(db, tenant.id, callId, { at: T0, reason: 'model_unavailable', turns: [], summary: null });
    expect(await callRow(callId)).toMatchObject({ session_end_reason: 'model_unavailable', session_started_at: null });
    expect(await transcriptRow(callId)).toMatchObject({ turns: [], summary: null });
  });

  it('keeps the first end: a later one changes neither the reason nor the transcript, nor any timestamp', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone, { status: 'answered' });
    await recordSessionEnded(db, tenant.id, callId, { at: later(30), reason: 'agent_ended', turns, summary: 'First.' });
    const call = await callRow(callId);
    const transcript = await transcriptRow(callId);

    await recordSessionEnded(db, tenant.id, callId, { at: later(60), reason: 'error', turns: [], summary: null });
    await recordSessionEnded(db, tenant.id, callId, { at: later(90), reason: 'time_limit', turns: turns.slice(0, 1), summary: 'Second.' });
    expect(await callRow(callId)).toEqual(call);
    expect(await transcriptRow(callId)).toEqual(transcript);
  });

  it('records one end when two arrive at once', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone, { status: 'answered' });
    const other = openAppDatabase();
    try {
      await Promise.all([
        recordSessionEnded(db, tenant.id, callId, { at: later(10), reason: 'caller_hung_up', turns, summary: 'One.' }),
        recordSessionEnded(other.db, tenant.id, callId, { at: later(11), reason: 'time_limit', turns: [], summary: 'Two.' }),
      ]);
    } finally {
      await other.close();
    }
    const call = await callRow(callId);
    const transcript = await transcriptRow(callId);
    // Whichever was first, the call and its transcript tell the same end.
    if (call.session_end_reason === 'caller_hung_up') expect(transcript).toMatchObject({ turns, summary: 'One.' });
    else expect(transcript).toMatchObject({ turns: [], summary: 'Two.', tenant_id: tenant.id });
    expect(['caller_hung_up', 'time_limit']).toContain(call.session_end_reason);
  });

  it('writes nothing for another tenant’s call, an unknown call, or ids that are not UUIDs', async () => {
    const victim = await tenantWithNumber();
    const attacker = await tenantWithNumber();
    const callId = await insertCall(victim.tenant.id, victim.phone, { status: 'answered' });
    const before = await callRow(callId);
    const end = { at: T0, reason: 'agent_ended' as const, turns, summary: 'Planted.' };
    expect(await recordSessionEnded(db, attacker.tenant.id, callId, end)).toBe(false);
    expect(await recordSessionEnded(db, randomUUID(), callId, end)).toBe(false);
    expect(await recordSessionEnded(db, 'not-a-uuid', callId, end)).toBe(false);
    expect(await recordSessionEnded(db, victim.tenant.id, 'not-a-uuid', end)).toBe(false);
    const unknown = randomUUID();
    expect(await recordSessionEnded(db, victim.tenant.id, unknown, end)).toBe(false);

    expect(await callRow(callId)).toEqual(before);
    expect(await transcriptRow(callId)).toBeUndefined();
    expect(await transcriptRow(unknown)).toBeUndefined();
    const { rows } = await sql(`select count(*)::int as n from call_transcripts where summary = 'Planted.'`);
    expect(rows[0].n).toBe(0);
    // The victim's own session can still end, and its end is its own; a later end is no failure, it changes nothing.
    expect(await recordSessionEnded(db, victim.tenant.id, callId, { ...end, summary: 'Real.' })).toBe(true);
    expect(await recordSessionEnded(db, victim.tenant.id, callId, { ...end, summary: 'Later.' })).toBe(true);
    expect(await transcriptRow(callId)).toMatchObject({ tenant_id: victim.tenant.id, summary: 'Real.' });
  });

  it('stores a runaway transcript within the limits: turns, characters per turn and in all, summary', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone, { status: 'answered' });
    const many = Array.from({ length: TRANSCRIPT_LIMITS.turns + 500 }, (_, i) => ({
      role: i % 2 ? ('caller' as const) : ('agent' as const),
      text: `turn ${i}`,
      offset_ms: i * 1000,
    }));
    many[0] = { role: 'agent', text: 'x'.repeat(TRANSCRIPT_LIMITS.turnChars + 1_000), offset_ms: 0 };
    await recordSessionEnded(db, tenant.id, callId, {
      at: T0,
      reason: 'time_limit',
      turns: many,
      summary: 's'.repeat(TRANSCRIPT_LIMITS.summaryChars * 3),
    });
    const stored = await transcriptRow(callId);
    expect(stored?.turns).toHaveLength(TRANSCRIPT_LIMITS.turns);
    expect(stored?.turns[0]?.text).toHaveLength(TRANSCRIPT_LIMITS.turnChars);
    expect(stored?.turns[1]).toEqual({ role: 'caller', text: 'turn 1', offset_ms: 1000 });
    expect(stored?.turns.at(-1)).toEqual({ role: 'caller', text: `turn ${TRANSCRIPT_LIMITS.turns - 1}`, offset_ms: 1_999_000 });
    expect(stored?.summary).toHaveLength(TRANSCRIPT_LIMITS.summaryChars);

    // Long turns stop at the total, however many there are.
    const longCall = await insertCall(tenant.id, phone, { status: 'answered' });
    const long = Array.from({ length: 1_000 }, () => ({
      role: 'caller' as const,
      text: 'y'.repeat(TRANSCRIPT_LIMITS.turnChars),
      offset_ms: 0,
    }));
    await recordSessionEnded(db, tenant.id, longCall, { at: T0, reason: 'time_limit', turns: long, summary: null });
    const longStored = await transcriptRow(longCall);
    const chars = longStored?.turns.reduce((sum, turn) => sum + turn.text.length, 0);
    expect(chars).toBe(TRANSCRIPT_LIMITS.totalChars);
    expect(longStored?.turns).toHaveLength(Math.ceil(TRANSCRIPT_LIMITS.totalChars / TRANSCRIPT_LIMITS.turnChars));
  });

  it('stores text Postgres would refuse: NUL characters dropped, unpaired surrogates replaced, offsets made whole', async () => {
    const { tenant, phone } = await tenantWithNumber();
    const callId = await insertCall(tenant.id, phone, { status: 'answered' });
    await recordSessionEnded(db, tenant.id, callId, {
      at: T0,
      reason: 'error',
      turns: [
        { role: 'caller', text: 'a\u0000b', offset_ms: 10.6 },
        { role: 'agent', text: 'half \uD83D pair', offset_ms: -5 },
        { role: 'caller', text: '👋', offset_ms: Number.NaN },
      ],
      summary: 'sum\u0000mary \uDC00',
    });
    expect(await transcriptRow(callId)).toMatchObject({
      turns: [
        { role: 'caller', text: 'ab', offset_ms: 11 },
        { role: 'agent', text: 'half \uFFFD pair', offset_ms: 0 },
        { role: 'caller', text: '👋', offset_ms: 0 },
      ],
      summary: 'summary \uFFFD',
    });
  });
});
