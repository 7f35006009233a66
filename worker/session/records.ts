// What a CallSession reads and writes in the database: the call's context when the session
// starts, and its records when media starts and when it ends. Every function runs inside
// withTenant() — the tenant comes from the signed media request, and row-level security holds the
// session to that tenant's rows — and none throws for an id that names nothing: a session must be
// able to refuse or finish a call without a database error of its own making.
import { and, eq, isNull, or, sql } from 'drizzle-orm';
import { aiProfiles, type callSessionEndReason, calls, callTranscripts } from '../db/schema.ts';
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

export type SessionContext =
  | { ok: true; tenantId: string; callId: string; externalCallId: string; profile: SessionProfile }
  | { ok: false; reason: 'unknown_call' | 'call_ended' | 'tenant_inactive' | 'no_ai_profile' };

/** A runaway session (or model) cannot write without bound: what is stored of a transcript. */
export const TRANSCRIPT_LIMITS = { turns: 2_000, turnChars: 4_000, totalChars: 500_000, summaryChars: 4_000 } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The call (by id, within tenantId — another tenant's call is unknown_call), its tenant's status,
 * and the call's AI profile (calls.ai_profile_id; if null, the tenant's current default; none →
 * no_ai_profile). A call whose status is ended/failed, or whose session already ended
 * (session_ended_at set) → call_ended. Checked in that order: unknown_call, call_ended,
 * tenant_inactive, no_ai_profile.
 */
export async function loadSessionContext(db: Database, tenantId: string, callId: string): Promise<SessionContext> {
  if (!UUID.test(tenantId) || !UUID.test(callId)) return { ok: false, reason: 'unknown_call' };
  const found = await inTenant(db, tenantId, async (tx, tenant) => {
    const [row] = await tx
      .select({
        externalCallId: calls.externalCallId,
        status: calls.status,
        sessionEndedAt: calls.sessionEndedAt,
        profile: {
          id: aiProfiles.id,
          name: aiProfiles.name,
          role: aiProfiles.role,
          systemPrompt: aiProfiles.systemPrompt,
          greeting: aiProfiles.greeting,
          voice: aiProfiles.voice,
          language: aiProfiles.language,
          maxDurationSeconds: aiProfiles.maxDurationSeconds,
        },
      })
      .from(calls)
      .leftJoin(
        aiProfiles,
        and(
          eq(aiProfiles.tenantId, calls.tenantId),
          // The profile the call was routed to; for a call routed without one, whatever is the default now.
          or(eq(aiProfiles.id, calls.aiProfileId), and(isNull(calls.aiProfileId), eq(aiProfiles.isDefault, true))),
        ),
      )
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)));
    return row && { ...row, tenantStatus: tenant.status };
  });
  if (!found) return { ok: false, reason: 'unknown_call' };
  if (found.status === 'ended' || found.status === 'failed' || found.sessionEndedAt !== null) return { ok: false, reason: 'call_ended' };
  if (found.tenantStatus !== 'active') return { ok: false, reason: 'tenant_inactive' };
  if (!found.profile) return { ok: false, reason: 'no_ai_profile' };
  return { ok: true, tenantId, callId, externalCallId: found.externalCallId, profile: found.profile };
}

/**
 * Media started: session_started_at = at (if null), answered_at = coalesce(answered_at, at),
 * status → 'answered' when it is 'initiated' or 'ringing'. An unknown call changes nothing.
 */
export async function recordSessionStarted(db: Database, tenantId: string, callId: string, at: Date): Promise<void> {
  if (!UUID.test(tenantId) || !UUID.test(callId)) return;
  const when = at.toISOString();
  await inTenant(db, tenantId, (tx) =>
    tx
      .update(calls)
      .set({
        sessionStartedAt: sql`coalesce(${calls.sessionStartedAt}, ${when}::timestamptz)`,
        answeredAt: sql`coalesce(${calls.answeredAt}, ${when}::timestamptz)`,
        // Read from the row as it is when locked, so an end recorded meanwhile is never undone.
        status: sql`case when ${calls.status} in ('initiated', 'ringing') then 'answered'::call_status else ${calls.status} end`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId))),
  );
}

/**
 * The session ended: session_ended_at/session_end_reason set once, and the transcript upserted
 * (turns + summary) with it. The first end wins: once a call's session has ended, later calls
 * change nothing at all — neither the reason nor the transcript — so a backstop that runs after
 * the real end cannot erase it. An unknown call changes nothing. Turns and summary are stored
 * within TRANSCRIPT_LIMITS, without NUL characters or unpaired surrogates (which Postgres refuses).
 */
export async function recordSessionEnded(
  db: Database,
  tenantId: string,
  callId: string,
  end: { at: Date; reason: SessionEndReason; turns: TranscriptTurn[]; summary: string | null },
): Promise<void> {
  if (!UUID.test(tenantId) || !UUID.test(callId)) return;
  const turns = storableTurns(end.turns);
  const summary = end.summary === null ? null : storableText(end.summary, TRANSCRIPT_LIMITS.summaryChars);
  await inTenant(db, tenantId, async (tx) => {
    // Locked, so two ends at once are one first end and one that changes nothing.
    const [call] = await tx
      .select({ sessionEndedAt: calls.sessionEndedAt })
      .from(calls)
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)))
      .for('no key update');
    if (!call || call.sessionEndedAt !== null) return;
    await tx
      .update(calls)
      .set({ sessionEndedAt: end.at.toISOString(), sessionEndReason: end.reason, updatedAt: sql`now()` })
      .where(and(eq(calls.tenantId, tenantId), eq(calls.id, callId)));
    await tx
      .insert(callTranscripts)
      .values({ callId, tenantId, turns, summary })
      .onConflictDoUpdate({ target: callTranscripts.callId, set: { turns, summary, updatedAt: sql`now()` } });
  });
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
