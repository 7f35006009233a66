// The ingest contract between the bridge and the Worker: request payloads and answers of
// /internal/telephony/*, and their limits. contract/ is what both sides share: runtime-neutral
// (zod and Web Crypto only), and it imports nothing from worker/ or bridge/ (test/layout.test.ts).
import { z } from 'zod';
import { storableText } from './text.ts';

/** Unix epoch seconds, as Asterisk's ${EPOCH} gives them (a string) or as a number. */
const epochSeconds = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^\d{1,12}(\.\d+)?$/, 'must be Unix epoch seconds'),
  ])
  .transform((value) => Number(value))
  .pipe(z.number().min(0).max(4_102_444_800, 'must be Unix epoch seconds before 2100'));

const nonNegativeInteger = (max: number) =>
  z
    .union([
      z.number(),
      z
        .string()
        .trim()
        .regex(/^\d{1,10}$/, 'must be a whole number'),
    ])
    .transform((value) => Number(value))
    .pipe(z.number().int().min(0).max(max));

/** The PBX's id of the call (Asterisk ${UNIQUEID}, e.g. "1706556789.123"). */
const callId = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const calledNumber = storableText(z.string().trim().min(1).max(64));

export const InboundCallPayload = z.strictObject({
  // Caller-controlled text: stored as received, never used for routing.
  caller_number: storableText(z.string().max(64)).optional().nullable(),
  called_number: calledNumber,
  call_id: callId,
  timestamp: epochSeconds,
});
export type InboundCallPayload = z.output<typeof InboundCallPayload>;

export const CallEndedPayload = z.strictObject({
  call_id: callId,
  called_number: calledNumber,
  ended_at: epochSeconds,
  duration_seconds: nonNegativeInteger(7 * 24 * 3600),
  /** Q.850 cause code as Asterisk's ${HANGUPCAUSE} reports it. */
  hangup_cause: nonNegativeInteger(255),
});
export type CallEndedPayload = z.output<typeof CallEndedPayload>;

/** The most events one call-ended batch may carry (the bridge sends batches when it drains its spool). */
export const CALL_ENDED_BATCH_MAX = 100;

export const CallEndedBatchPayload = z.strictObject({
  events: z.array(CallEndedPayload).min(1).max(CALL_ENDED_BATCH_MAX),
});

export const inboundErrorCodes = ['unknown_did', 'inactive_did', 'tenant_inactive'] as const;
export type InboundErrorCode = (typeof inboundErrorCodes)[number];

export const InboundCallAnswer = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    call_record_id: z.uuid(),
    tenant_id: z.uuid(),
    phone_number_id: z.uuid(),
    ai_profile: z.object({ id: z.uuid(), name: z.string(), role: z.string() }).nullable(),
    message: z.string(),
  }),
  z.object({ status: z.literal('error'), code: z.enum(inboundErrorCodes), message: z.string() }),
]);
export type InboundCallAnswer = z.output<typeof InboundCallAnswer>;

export const CallEndedAnswer = z.discriminatedUnion('status', [
  z.object({ status: z.literal('success'), call_record_id: z.uuid(), call_status: z.enum(['ended', 'failed']) }),
  z.object({ status: z.literal('error'), code: z.literal('unknown_call'), message: z.string() }),
]);
export type CallEndedAnswer = z.output<typeof CallEndedAnswer>;

export const CallEndedBatchAnswer = z.object({
  /** One answer per event, in the order of `events`: each exactly what /call-ended answers for it. */
  results: z.array(CallEndedAnswer),
});
export type CallEndedBatchAnswer = z.output<typeof CallEndedBatchAnswer>;

/**
 * Q.850 causes that mean the call was cleared normally: 16 (normal clearing) and 0, which
 * Asterisk 22 reports in the hangup handler when a caller's BYE ends the call outside a bridge
 * (the old Wait() hold did; a bridged hand-off reports 16).
 */
export const NORMAL_CLEARING_CAUSES: readonly number[] = [0, 16];

/** For logs: every character but the last four replaced, so a caller cannot be identified. */
export function maskPhoneNumber(text: string | null | undefined): string | null {
  if (!text) return null;
  return text.length <= 4 ? '*'.repeat(text.length) : `${'*'.repeat(text.length - 4)}${text.slice(-4)}`;
}
