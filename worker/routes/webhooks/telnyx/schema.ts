// The parts of Telnyx's Call Control webhooks (API v2) VCA reads: the envelope
// `{data: {record_type, event_type, id, occurred_at, payload}, meta}` and the payload fields of
// call.initiated, call.answered, call.hangup and streaming.failed (developers.telnyx.com/api-reference/callbacks).
// Telnyx adds fields and event types without notice, so every object is loose: unknown fields are
// signed over and ignored, and an event type VCA does not act on is acknowledged and ignored.
import { z } from '@hono/zod-openapi';
import { problems } from '../../../lib/problem.ts';
import { TELNYX_CALL_CONTROL_ID } from '../../../telephony/telnyx-api.ts';

/** The problems the Telnyx webhook answers: no credential but the signature, so no 403. */
export function telnyxProblems(...statuses: number[]) {
  const out = problems(...statuses);
  delete out[403];
  return out;
}

/** Telnyx's hangup causes (call.hangup `hangup_cause`), as its webhook reference lists them. */
export const TELNYX_HANGUP_CAUSES = [
  'call_rejected',
  'normal_clearing',
  'originator_cancel',
  'timeout',
  'time_limit',
  'user_busy',
  'not_found',
  'no_answer',
  'unspecified',
] as const;

const text = (max: number) => z.string().max(max);

export const TelnyxEventPayload = z
  .looseObject({
    call_control_id: z.string().regex(TELNYX_CALL_CONTROL_ID, 'must be a Telnyx call control id').optional().openapi({
      description: 'The id commands on the call are addressed to.',
      example: 'v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg',
    }),
    call_session_id: z
      .string()
      .regex(/^[\w:.-]{1,128}$/, 'must be a Telnyx call session id')
      .optional()
      .openapi({ description: 'Telnyx’s id of the call: the call’s `external_call_id`.', example: '428c31b6-7af4-4bcb-b7f5-5013ef9657c1' }),
    call_leg_id: text(128).optional(),
    connection_id: text(64).optional().openapi({ description: 'The Call Control application the call came through.' }),
    to: text(256).optional().openapi({ description: 'The dialled number (E.164) or SIP URI.', example: '+14155550100' }),
    from: text(1024)
      .optional()
      .openapi({ description: 'The caller, as Telnyx presents it; stored (up to 64 characters), never used for routing.' }),
    direction: text(32).optional().openapi({ description: '`incoming` or `outgoing` (call.initiated).' }),
    start_time: text(64).optional().openapi({ description: 'When the call started (ISO 8601).' }),
    end_time: text(64).optional().openapi({ description: 'When the call ended (ISO 8601), where Telnyx sends it.' }),
    hangup_cause: text(64)
      .optional()
      .openapi({ description: `call.hangup: one of ${TELNYX_HANGUP_CAUSES.join(', ')}.`, example: 'normal_clearing' }),
    hangup_source: text(32).optional().openapi({ description: 'call.hangup: `caller`, `callee` or `unknown`.' }),
    sip_hangup_cause: text(32).optional().openapi({ description: 'call.hangup: the SIP response code, or `unspecified`.' }),
    client_state: text(4096).optional().openapi({ description: 'Base64 state set by a command; VCA sets the call record id.' }),
    // Not limited: only ever shortened for the log, so no length Telnyx sends makes the event a 400.
    failure_reason: z.string().nullish().openapi({ description: 'streaming.failed: why the media stream could not be opened.' }),
    stream_params: z
      .looseObject({ stream_url: z.string().nullish() })
      .nullish()
      .openapi({ description: 'streaming.failed: the stream as the answer command asked for it; `stream_url` names the call.' }),
  })
  .openapi('TelnyxEventPayload');

export const TelnyxWebhook = z
  .looseObject({
    data: z.looseObject({
      record_type: text(32).optional(),
      event_type: text(64).openapi({
        description: 'call.initiated, call.answered, call.hangup and streaming.failed are acted on; others are ignored.',
      }),
      id: z
        .string()
        .min(1)
        .max(128)
        .openapi({ description: 'The event’s id (a redelivery carries the same one).', example: '0ccc7b54-4df3-4bca-a65a-3da1ecc777f0' }),
      occurred_at: text(64).optional().openapi({ description: 'When the event happened (ISO 8601).' }),
      payload: TelnyxEventPayload.optional(),
    }),
    meta: z.looseObject({ attempt: z.number().optional(), delivered_to: text(2048).optional() }).optional(),
  })
  .openapi('TelnyxWebhook');

export type TelnyxPayload = z.infer<typeof TelnyxEventPayload>;

export const TelnyxWebhookAnswer = z
  .object({
    event_id: z.string(),
    event_type: z.string(),
    outcome: z.enum(['answered', 'rejected', 'busy', 'failed', 'call_gone', 'already_handled', 'recorded', 'unknown_call', 'ignored']),
    reason: z.string().optional().openapi({ description: 'Why a call was rejected or failed, or why an event was ignored.' }),
    call_record_id: z.uuid().optional(),
    call_status: z.enum(['initiated', 'ringing', 'answered', 'ended', 'failed']).optional(),
    hangup_cause: z.string().optional().openapi({ description: 'Telnyx’s hangup cause, as it sent it.' }),
    q850_cause: z.int().optional().openapi({ description: 'The Q.850 cause recorded as the call’s hangup_cause.' }),
  })
  .openapi('TelnyxWebhookAnswer', {
    description: 'What VCA did with the event. Telnyx needs only the 2xx; the body is for people reading Telnyx’s webhook logs.',
  });
