// What a CallSession reads and writes in the database: the call's context when the session
// starts, and its records when media starts and when it ends. Every function runs inside
// withTenant() — the tenant comes from the signed media request, and row-level security holds the
// session to that tenant's rows — and none throws for an id that names nothing: a session must be
// able to refuse or finish a call without a database error of its own making.
import { and, eq, sql } from 'drizzle-orm';
import { aiProfiles, type callSessionEndReason, calls, callTranscripts, phoneNumbers } from '../db/schema.ts';
import { type Database, type Tenant, type Transaction, withTenant } from '../lib/db.ts';
import { ApiError } from '../lib/problem.ts';

export type SessionEndReason = (typeof callSessionEndReason.enumValues)[number];

export interface TranscriptTurn {
  role: 'caller' | 'agent';
  text: string;
  /** Milliseconds from the start of the session. */
  offset_ms: number;
}

export interface SessionProfile {
  id: string;
  name: string;
  role: string;
  systemPrompt: string;
  greeting: string | null;
  voice: string;
  language: string | null;
  maxDurationSeconds: number;
}

/**
 * The route a signed media request carries (the bridge's answer to Asterisk): the session can
 * trust it without the call's row, which the bridge may still be delivering.
 */
export interface SignedRoute {
  phoneNumberId: string;
  /** The profile the call was routed to; null: none then (the tenant's default now). */
  aiProfileId: string | null;
  /** The carrier's id of the call: the row's external_call_id. */
  externalCallId: string;
}

export type SessionContext =
  | {
      ok: true;
      tenantId: string;
      callId: string;
      externalCallId: string;
      profile: SessionProfile;
      /** The call's row exists now; if not, the session keeps its records until it does. */
      recorded: boolean;
    }
  | { ok: false; reason: 'unknown_call' | 'call_ended' | 'route_mismatch' | 'tenant_inactive' | 'no_ai_profile' };

/** A runaway session (or model) cannot write without bound: what is stored of a transcript. */
export const TRANSCRIPT_LIMITS = { turns: 2_000, turnChars: 4_000, totalChars: 500_000, summaryChars: 4_000 } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const PROFILE_COLUMNS = {
  id: aiProfiles.id,
  name: aiProfiles.name,
  role: aiProfiles.role,
  systemPrompt: aiProfiles.systemPrompt,
  greeting: aiProfiles.greeting,
  voice: aiProfiles.voice,
  language: aiProfiles.language,
  maxDurationSeconds: aiProfiles.maxDurationSeconds,
};

/**
 * The call's context, within tenantId (another tenant's call or profile is as unknown as none).
 *
 * Without a route (Twilio's and Telnyx's streams, whose webhook recorded the call before the
 * stream was asked for) the call's row must exist: none → unknown_call. Its profile is the one
 * it was routed to (calls.ai_profile_id; if null, the tenant's current default).
 *
 * With a signed route (the bridge's), a missing row is no refusal: the route names the number (which
 * must be the tenant's: another tenant's → unknown_call) and the profile (by id, within the tenant;
 * none → the tenant's current default). A row that exists must agree with the route (number,
 * carrier call id, and its profile if it has one): route_mismatch.
 *
 * Either way: a call whose status is ended/failed, or whose session already ended
 * (session_ended_at set) → call_ended; a tenant that is not active → tenant_inactive; no profile
 * → no_ai_profile. Checked in that order: unknown_call, call_ended, route_mismatch,
 * tenant_inactive, no_ai_profile.
 */
export async function loadSessionContext(db: Database, tenantId: string, callId: string, route?: SignedRoute): Promise<SessionContext> {
  if (!UUID.test(tenantId) || !UUID.test(callId)) return { ok: false, reason: 'unknown_call' };
  if (route && (!UUID.test(route.phoneNumberId) || (route.aiProfileId !== null && !UUID.test(route.aiProfileId)))) {
    return { ok: false, reason: 'route_mismatch' };
  }
  const found = await inTenant(db, tenantId, async (tx, tenant) => {
    const [call] = await tx
      .select({
        phoneNumberId: calls.phoneNumberId,
        aiProfileId: calls.aiProfileId,
        externalCallId: calls.externalCallId,
        status: calls.status,
        sessionEndedAt: calls.sessionEndedAt,
      })
      .from(calls)
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)));
    if (!call && !route) return undefined;
    if (!call && route) {
      // No row to hold the number to the tenant: the route's number must be the tenant's itself.
      const [number] = await tx
        .select({ id: phoneNumbers.id })
        .from(phoneNumbers)
        .where(and(eq(phoneNumbers.tenantId, tenantId), eq(phoneNumbers.id, route.phoneNumberId)));
      if (!number) return undefined;
    }
    const profileId = route ? route.aiProfileId : (call?.aiProfileId ?? null);
    const [profile] = await tx
      .select(PROFILE_COLUMNS)
      .from(aiProfiles)
      // The profile the call was routed to; for a call routed without one, whatever is the default now.
      .where(and(eq(aiProfiles.tenantId, tenantId), profileId ? eq(aiProfiles.id, profileId) : eq(aiProfiles.isDefault, true)));
    return { call, profile, tenantStatus: tenant.status };
  });
  if (!found) return { ok: false, reason: 'unknown_call' };
  const { call, profile } = found;
  if (call && (call.status === 'ended' || call.status === 'failed' || call.sessionEndedAt !== null)) {
    return { ok: false, reason: 'call_ended' };
  }
  if (
    call &&
    route &&
    (call.phoneNumberId !== route.phoneNumberId ||
      call.externalCallId !== route.externalCallId ||
      (call.aiProfileId !== null && call.aiProfileId !== route.aiProfileId))
  ) {
    return { ok: false, reason: 'route_mismatch' };
  }
  if (found.tenantStatus !== 'active') return { ok: false, reason: 'tenant_inactive' };
  if (!profile) return { ok: false, reason: 'no_ai_profile' };
  const externalCallId = call?.externalCallId ?? (route as SignedRoute).externalCallId;
  return { ok: true, tenantId, callId, externalCallId, profile, recorded: call !== undefined };
}

/**
 * Media started: session_started_at = at (if null), answered_at = coalesce(answered_at, at),
 * status → 'answered' when it is 'initiated' or 'ringing'. An unknown call changes nothing.
 * True when the call's row was there (whatever it kept), false when there is none (yet).
 */
export async function recordSessionStarted(db: Database, tenantId: string, callId: string, at: Date): Promise<boolean> {
  if (!UUID.test(tenantId) || !UUID.test(callId)) return false;
  const when = at.toISOString();
  const updated = await inTenant(db, tenantId, (tx) =>
    tx
      .update(calls)
      .set({
        sessionStartedAt: sql`coalesce(${calls.sessionStartedAt}, ${when}::timestamptz)`,
        // An end delivered first decided the answer time from its talk time (none for 0: a caller
        // who gave up during ringback while the session was still starting): it stays.
        answeredAt: sql`case when ${calls.status} in ('initiated', 'ringing', 'answered') then coalesce(${calls.answeredAt}, ${when}::timestamptz) else ${calls.answeredAt} end`,
        // Read from the row as it is when locked, so an end recorded meanwhile is never undone.
        status: sql`case when ${calls.status} in ('initiated', 'ringing') then 'answered'::call_status else ${calls.status} end`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)))
      .returning({ id: calls.id }),
  );
  return (updated?.length ?? 0) > 0;
}

/**
 * The session ended: session_ended_at/session_end_reason set once, and the transcript upserted
 * (turns + summary) with it. The first end wins: once a call's session has ended, later calls
 * change nothing at all — neither the reason nor the transcript — so a backstop that runs after
 * the real end cannot erase it. An unknown call changes nothing. Turns and summary are stored
 * within TRANSCRIPT_LIMITS, without NUL characters or unpaired surrogates (which Postgres refuses).
 * True when the call's row was there (this end written, or an earlier one kept), false when there
 * is none (yet).
 */
export async function recordSessionEnded(
  db: Database,
  tenantId: string,
  callId: string,
  end: { at: Date; reason: SessionEndReason; turns: TranscriptTurn[]; summary: string | null },
): Promise<boolean> {
  if (!UUID.test(tenantId) || !UUID.test(callId)) return false;
  const turns = storableTurns(end.turns);
  const summary = end.summary === null ? null : storableText(end.summary, TRANSCRIPT_LIMITS.summaryChars);
  const found = await inTenant(db, tenantId, async (tx) => {
    // Locked, so two ends at once are one first end and one that changes nothing.
    const [call] = await tx
      .select({ sessionEndedAt: calls.sessionEndedAt })
      .from(calls)
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)))
      .for('no key update');
    if (!call) return false;
    if (call.sessionEndedAt !== null) return true;
    await tx
      .update(calls)
      .set({ sessionEndedAt: end.at.toISOString(), sessionEndReason: end.reason, updatedAt: sql`now()` })
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)));
    await tx
      .insert(callTranscripts)
      .values({ callId, tenantId, turns, summary })
      .onConflictDoUpdate({ target: callTranscripts.callId, set: { turns, summary, updatedAt: sql`now()` } });
    return true;
  });
  return found === true;
}

/**
 * A carrier's call whose media stream could not be opened (Telnyx's streaming.failed), within
 * tenantId: its dialled number and carrier call id, to end it by, and whether its session ever
 * started (then the session, not the stream's failure, says how the call ends). Undefined: no such
 * call in the tenant.
 */
export async function findStreamCall(
  db: Database,
  tenantId: string,
  callId: string,
): Promise<{ did: string; externalCallId: string; sessionStarted: boolean } | undefined> {
  if (!UUID.test(tenantId) || !UUID.test(callId)) return undefined;
  const [call] =
    (await inTenant(db, tenantId, (tx) =>
      tx
        .select({ did: calls.calledNumber, externalCallId: calls.externalCallId, sessionStartedAt: calls.sessionStartedAt })
        .from(calls)
        .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId))),
    )) ?? [];
  return call && { did: call.did, externalCallId: call.externalCallId, sessionStarted: call.sessionStartedAt !== null };
}

/** withTenant, with an unknown tenant answered like an unknown call (undefined) rather than thrown. */
async function inTenant<T>(db: Database, tenantId: string, work: (tx: Transaction, tenant: Tenant) => Promise<T>): Promise<T | undefined> {
  try {
    return await withTenant(db, tenantId, work);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'tenant_not_found') return undefined;
    throw error;
  }
}

function storableTurns(turns: readonly TranscriptTurn[]): TranscriptTurn[] {
  const stored: TranscriptTurn[] = [];
  let total = 0;
  for (const turn of turns) {
    if (stored.length === TRANSCRIPT_LIMITS.turns || total === TRANSCRIPT_LIMITS.totalChars) break;
    const text = storableText(turn.text, Math.min(TRANSCRIPT_LIMITS.turnChars, TRANSCRIPT_LIMITS.totalChars - total));
    total += text.length;
    const offset = Number.isFinite(turn.offset_ms) ? Math.max(0, Math.round(turn.offset_ms)) : 0;
    stored.push({ role: turn.role, text, offset_ms: offset });
  }
  return stored;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function storableText(text: string, maxChars: number): string {
  return text.replaceAll('\u0000', '').slice(0, maxChars).replace(LONE_SURROGATE, '\uFFFD');
}
