import { z } from '@hono/zod-openapi';
import { callDirection, callSessionEndReason, callStatus, type calls, providerType } from '../../db/schema.ts';
import { pageSchema } from '../../lib/pagination.ts';
import { toIso } from '../../lib/time.ts';

const timestamp = z.iso.datetime();

export const CallSchema = z
  .object({
    id: z.uuid(),
    tenant_id: z.uuid(),
    phone_number_id: z.uuid(),
    ai_profile_id: z.uuid().nullable(),
    direction: z.enum(callDirection.enumValues),
    status: z.enum(callStatus.enumValues),
    caller_number: z.string().nullable().openapi({ description: 'As the caller presented it; never used for routing.' }),
    called_number: z.string().openapi({ description: 'E.164' }),
    external_call_id: z
      .string()
      .openapi({ description: 'The carrier’s call id: Asterisk’s UNIQUEID, Twilio’s CallSid, or Telnyx’s call_session_id.' }),
    carrier: z.enum(providerType.enumValues).openapi({
      description: 'The carrier the call came through: its number’s provider type (`generic`: Tata through Asterisk; `twilio`; `telnyx`).',
    }),
    started_at: timestamp,
    answered_at: timestamp.nullable(),
    ended_at: timestamp.nullable(),
    duration_seconds: z.number().int().nullable(),
    hangup_cause: z.number().int().nullable().openapi({ description: 'Q.850 cause code' }),
    session_started_at: timestamp.nullable().openapi({ description: 'When the AI session got the call’s audio; null: no session ran.' }),
    session_ended_at: timestamp.nullable().openapi({ description: 'When the AI session ended; null: not (yet).' }),
    session_end_reason: z.enum(callSessionEndReason.enumValues).nullable().openapi({
      description:
        'Why the AI session ended: the caller hung up, the agent ended the call, the profile’s time limit, the model service was unreachable or failed mid-call, or another error. Null while no session has ended.',
    }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi('Call');

export const CallPageSchema = pageSchema(CallSchema, 'CallPage');

// Postgres cannot store year 0; an ISO string outside what we accept is a 400, not a 500.
export const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59Z');

const datetimeFilter = (description: string) =>
  z.iso
    .datetime({ offset: true })
    .refine((value) => Date.parse(value) >= EARLIEST && Date.parse(value) <= LATEST, 'must be between the years 0001 and 9999')
    .optional()
    .openapi({ description, example: '2026-11-01T00:00:00Z' });

export const fromFilter = datetimeFilter('Calls started at or after this time (ISO-8601).');
export const toFilter = datetimeFilter('Calls started before this time (ISO-8601, exclusive).');
const fromBeforeTo = (q: { from?: string; to?: string }) => !q.from || !q.to || isoMicros(q.from) < isoMicros(q.to);

/** Microseconds since the epoch of a validated ISO-8601 string: Postgres keeps them, a JS Date stops at milliseconds. */
export function isoMicros(value: string): number {
  const fraction = /\.(\d+)/.exec(value)?.[1] ?? '';
  return Date.parse(value) * 1000 + Number(fraction.padEnd(6, '0').slice(3, 6));
}

/** ISO-8601 UTC for microseconds since the epoch; the sub-millisecond digits only when there are any. */
export function microsToIso(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  const extra = micros % 1000;
  return extra ? iso.replace('Z', `${String(extra).padStart(3, '0')}Z`) : iso;
}

export const CallListQuery = z
  .object({
    status: z.enum(callStatus.enumValues).optional(),
    direction: z.enum(callDirection.enumValues).optional(),
    carrier: z.enum(providerType.enumValues).optional(),
    from: fromFilter,
    to: toFilter,
  })
  .refine(fromBeforeTo, { message: '`from` must be before `to`', path: ['to'] });

export function presentCall(row: typeof calls.$inferSelect): z.infer<typeof CallSchema> {
  return {
    id: row.id,
    tenant_id: row.tenantId,
    phone_number_id: row.phoneNumberId,
    ai_profile_id: row.aiProfileId,
    direction: row.direction,
    status: row.status,
    caller_number: row.callerNumber,
    called_number: row.calledNumber,
    external_call_id: row.externalCallId,
    carrier: row.carrier,
    started_at: toIso(row.startedAt),
    answered_at: toIso(row.answeredAt),
    ended_at: toIso(row.endedAt),
    duration_seconds: row.durationSeconds,
    hangup_cause: row.hangupCause,
    session_started_at: toIso(row.sessionStartedAt),
    session_ended_at: toIso(row.sessionEndedAt),
    session_end_reason: row.sessionEndReason,
    created_at: toIso(row.createdAt),
    updated_at: toIso(row.updatedAt),
  };
}

export const TranscriptSchema = z
  .object({
    call_id: z.uuid(),
    turns: z
      .array(
        z.object({
          role: z.enum(['caller', 'agent']),
          text: z.string(),
          offset_ms: z.number().int().openapi({ description: 'When the turn began, in milliseconds from the start of the session.' }),
        }),
      )
      .openapi({ description: 'What the caller and the agent said, in order. Empty until the call’s session has ended.' }),
    summary: z.string().nullable().openapi({ description: 'A short summary of the call, written by the model when the session ended.' }),
  })
  .openapi('CallTranscript');
