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
export const PbxCallId = z
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
  call_id: PbxCallId,
  timestamp: epochSeconds,
});
export type InboundCallPayload = z.output<typeof InboundCallPayload>;

export const CallEndedPayload = z.strictObject({
  call_id: PbxCallId,
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

// ---- Routing at the PBX: the bridge answers /inbound from its copy of the routes ----

/** Routes per page of GET /internal/telephony/routes: at most, and when `limit` is not given. */
export const ROUTES_PAGE_MAX = 1000;
export const ROUTES_PAGE_DEFAULT = 500;

/** A routing version: stamped by the database on every change that affects a route, growing in commit order. */
const routingVersion = z.number().int().min(0);

const aiProfileRoute = z.object({ id: z.uuid(), name: z.string(), role: z.string() }).nullable();

/** One generic number's route: exactly what answering a call needs, never a prompt or a secret. */
export const Route = z.object({
  removed: z.literal(false),
  phone_number_id: z.uuid(),
  /** The version of the last change that affected this route. */
  version: routingVersion,
  /** E.164, as stored. */
  did: z.string(),
  tenant_id: z.uuid(),
  number_active: z.boolean(),
  tenant_active: z.boolean(),
  /** The tenant's default AI profile; null when it has none. */
  ai_profile: aiProfileRoute,
});
export type Route = z.output<typeof Route>;

/** A number that no longer routes through the PBX (deleted, or moved to another provider type). */
export const RemovedRoute = z.object({ removed: z.literal(true), phone_number_id: z.uuid(), version: routingVersion });
export type RemovedRoute = z.output<typeof RemovedRoute>;

export const RoutesPage = z.object({
  /** The Worker's DEFAULT_COUNTRY, which reads national-format DIDs: the bridge normalises with it too. */
  default_country: z.string(),
  /** The highest routing version the database has stamped. Below the caller's `after`: the database went back (a restore). */
  version: routingVersion,
  /** Changed after `after`, oldest change first. */
  routes: z.array(z.discriminatedUnion('removed', [Route, RemovedRoute])),
  /** More changes wait: ask again with after=next_after. Null: this page reached `version`. */
  next_after: routingVersion.nullable(),
});
export type RoutesPage = z.output<typeof RoutesPage>;

/** The most inbound calls one /inbound/batch may carry. */
export const INBOUND_BATCH_MAX = 100;

/**
 * An inbound call the bridge routed itself, from its copy of the routes: the call as /inbound
 * takes it, plus the route the bridge answered with and the call record id it created.
 */
export const RoutedInboundCall = z.strictObject({
  ...InboundCallPayload.shape,
  call_record_id: z.uuid(),
  tenant_id: z.uuid(),
  phone_number_id: z.uuid(),
  ai_profile_id: z.uuid().nullable(),
});
export type RoutedInboundCall = z.output<typeof RoutedInboundCall>;

export const InboundBatchPayload = z.strictObject({
  events: z.array(RoutedInboundCall).min(1).max(INBOUND_BATCH_MAX),
});

export const routedInboundErrorCodes = ['unknown_did', 'route_mismatch'] as const;

export const RoutedInboundAnswer = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    /** The call's id: the bridge's, or on a replay the id the call was first recorded with. */
    call_record_id: z.uuid(),
    /** The call was recorded before (by an earlier request, or earlier in this batch). */
    replayed: z.boolean(),
  }),
  z.object({ status: z.literal('error'), code: z.enum(routedInboundErrorCodes), message: z.string() }),
]);
export type RoutedInboundAnswer = z.output<typeof RoutedInboundAnswer>;

export const InboundBatchAnswer = z.object({
  /** One answer per event, in the order of `events`. */
  results: z.array(RoutedInboundAnswer),
});
export type InboundBatchAnswer = z.output<typeof InboundBatchAnswer>;

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
