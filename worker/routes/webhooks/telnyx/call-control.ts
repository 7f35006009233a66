import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { maskPhoneNumber } from '../../../../contract/ingest.ts';
import { normalizeDid } from '../../../../contract/phone.ts';
import { type CallStatus, recordCallProgress, recordCallsEnded } from '../../../db/cross-tenant.ts';
import { isDatabaseUnavailable } from '../../../lib/db.ts';
import type { App, AppEnv } from '../../../lib/env.ts';
import type { LogFields } from '../../../lib/log.ts';
import { ApiError } from '../../../lib/problem.ts';
import { findStreamCall, recordSessionEnded } from '../../../session/records.ts';
import type { CallEvent } from '../../../telephony/adapter.ts';
import { TELNYX_WEBHOOK_PATH, TelnyxTelephonyAdapter } from '../../../telephony/telnyx.ts';
import { telnyxCallCommand, telnyxHangupCommandId } from '../../../telephony/telnyx-api.ts';
import { telnyxStreamUrl, verifyTelnyxMediaPath } from '../../../telephony/telnyx-media.ts';
import { jsonBody, jsonResponse } from '../../openapi.ts';
import { type TelnyxPayload, TelnyxWebhook, TelnyxWebhookAnswer, telnyxProblems } from './schema.ts';

/**
 * What each hangup_cause records, as the call-end rule reads it (failed: no talk time and a cause
 * that is not normal clearing). Telnyx names causes in words; each gets the Q.850 cause that
 * means it: 16 normal clearing, 17 user busy, 19 no answer from user (Telnyx's `timeout` is its
 * wait for an answer running out), 21 call rejected, 1 unallocated number, 102 recovery on timer
 * expiry (the call's time limit), 31 normal unspecified — also for `originator_cancel`, the caller
 * giving up before the call was answered, as Twilio's `canceled` records. Only a cause that ends
 * an answered call counts talk time.
 */
const ENDS = new Map<string, { cause: number; talks: boolean }>([
  ['normal_clearing', { cause: 16, talks: true }],
  ['time_limit', { cause: 102, talks: true }],
  ['user_busy', { cause: 17, talks: false }],
  ['no_answer', { cause: 19, talks: false }],
  ['timeout', { cause: 19, talks: false }],
  ['call_rejected', { cause: 21, talks: false }],
  ['not_found', { cause: 1, talks: false }],
  ['originator_cancel', { cause: 31, talks: false }],
  ['unspecified', { cause: 31, talks: false }],
]);
const UNKNOWN_END = { cause: 31, talks: false };
/** The caller hung up before VCA's answer reached Telnyx: as originator_cancel records. */
const CALLER_GONE_CAUSE = 31;
/**
 * VCA could not answer the call (Telnyx refused the command or was unreachable), or answered it
 * but its media stream never came (streaming.failed): temporary failure.
 */
const NOT_ANSWERED_CAUSE = 41;

const route = createRoute({
  method: 'post',
  path: TELNYX_WEBHOOK_PATH,
  tags: ['Telnyx'],
  summary: 'A Telnyx Call Control event: answer or reject a call, and move it through its lifecycle',
  description: [
    'The webhook URL of VCA’s Call Control application in Mission Control (API v2): every event of every call to a number assigned to it, JSON, signed with `telnyx-signature-ed25519` over the `telnyx-timestamp` header, `|` and the raw body by the account’s key (TELNYX_PUBLIC_KEY); a timestamp more than 300 s off is refused.',
    '`call.initiated` (`direction` `incoming`): the tenant comes only from `to`, looked up strictly among the `telnyx` numbers in the same one-statement resolve-and-record as the bridge’s ingest, idempotent on `call_session_id` (the call’s `external_call_id`).',
    'Routed: the call is marked ringing and answered with `POST /v2/calls/{call_control_id}/actions/answer`, streaming its audio both ways (RTP, PCMU) to `wss://…/internal/media/telnyx/{tenant_id}/{call_record_id}/{token}`, with the call record id (base64) as `client_state` and `command_id` `vca-answer-{call_session_id}`, so a redelivered event never answers twice.',
    'Unknown, deactivated or another carrier’s number, or an inactive tenant: `actions/reject` with cause `CALL_REJECTED`, no call recorded. Database unreachable: `actions/reject` with `USER_BUSY` (logged). A command Telnyx refuses or that cannot reach Telnyx is logged and the call recorded failed (cause 41); a call that already hung up (Telnyx error 90018) is recorded failed (cause 31) and is not an error.',
    '`call.answered` → answered. `call.hangup` → ended or failed, with `hangup_cause` as its Q.850 cause (normal_clearing 16, user_busy 17, no_answer and timeout 19, call_rejected 21, not_found 1, time_limit 102, originator_cancel and unspecified 31) and the talk time from `start_time` to the end for normal_clearing and time_limit. A call only moves forward and the first end wins, whatever order events arrive in.',
    '`streaming.failed` (the media stream could not be opened; its `stream_params.stream_url` must be one VCA gave for the event’s call): unless the call’s session started, the call is recorded failed (cause 41, no talk time) with its session ended `error` and never started, then hung up with `actions/hangup` (`command_id` derived from the call record, so a redelivery is harmless); with the database unreachable it is hung up all the same and the answer is 503.',
    'Other events, and any event whose `payload.connection_id` is not TELNYX_CONNECTION_ID (another Call Control application of the account), are acknowledged and ignored. The answer is 200 for a signed, well-formed event (Telnyx needs only a 2xx), except 503 `database_unavailable` when the database cannot be reached for call.answered, call.hangup or streaming.failed, so that Telnyx delivers it again; unsigned, wrongly signed or stale requests: 401, nothing recorded. Telnyx not configured: 503.',
  ].join(' '),
  security: [{ telnyxSignature: [] }],
  request: { body: jsonBody(TelnyxWebhook) },
  responses: {
    200: jsonResponse(TelnyxWebhookAnswer, 'What VCA did with the event'),
    ...telnyxProblems(400, 401, 413, 415, 503),
  },
});

type Answer = typeof TelnyxWebhookAnswer._output;
type Event = { id: string; event_type: string; occurred_at?: string | undefined };

export function registerTelnyxCallControl(app: App) {
  app.openapi(route, async (c) => {
    const { data } = c.req.valid('json');
    const payload = data.payload ?? {};
    // The account's key signs every application's events: one that another Call Control
    // application sends here (a webhook URL copied between applications) is not VCA's to act on.
    if (payload.connection_id !== undefined && payload.connection_id !== c.var.telnyx.connectionId) {
      return reply(c, data, {
        outcome: 'ignored',
        reason: 'The event is for another Call Control application (connection_id), not the one VCA answers for.',
        log: { connection_id: payload.connection_id, call_session_id: payload.call_session_id },
      });
    }
    switch (data.event_type) {
      case 'call.initiated':
        return reply(c, data, await callInitiated(c, data, payload));
      case 'call.answered':
        return reply(c, data, await callAnswered(c, data, payload));
      case 'call.hangup':
        return reply(c, data, await callHangup(c, data, payload));
      case 'streaming.failed':
        return reply(c, data, await streamingFailed(c, payload));
      default:
        return reply(c, data, { outcome: 'ignored', reason: `${data.event_type} changes nothing.` });
    }
  });
}

type Outcome = Omit<Answer, 'event_id' | 'event_type'> & { log?: LogFields };

function reply(c: Context<AppEnv>, event: Event, outcome: Outcome) {
  const { log, ...rest } = outcome;
  c.set('logEntry', {
    msg: `[TELNYX ${event.event_type}] ${rest.outcome}`,
    fields: { event_id: event.id, ...log, reason: rest.reason, call_record_id: rest.call_record_id, call_status: rest.call_status },
  });
  return c.json({ event_id: event.id, event_type: event.event_type, ...rest } satisfies Answer, 200);
}

/** The fields a call event must carry to be acted on; a signed event without them is a 400. */
function callFields(payload: TelnyxPayload, needsControlId: boolean) {
  const missing = (['call_session_id', 'to', ...(needsControlId ? ['call_control_id'] : [])] as const).filter((name) => !payload[name]);
  if (missing.length > 0) {
    throw new ApiError(400, 'validation_failed', 'Invalid request', `The event’s payload lacks ${missing.join(', ')}.`, {
      errors: missing.map((name) => ({ path: `data.payload.${name}`, message: 'required for this event type' })),
    });
  }
  return { callSessionId: payload.call_session_id as string, to: payload.to as string, callControlId: payload.call_control_id ?? '' };
}

async function callInitiated(c: Context<AppEnv>, event: Event, payload: TelnyxPayload): Promise<Outcome> {
  if (payload.direction !== 'incoming') {
    return { outcome: 'ignored', reason: 'VCA answers incoming calls only.', log: { direction: payload.direction } };
  }
  const { callSessionId, to, callControlId } = callFields(payload, true);
  const telnyx = c.var.telnyx;
  const did = normalizeDid(to, c.var.settings.DEFAULT_COUNTRY);
  const log: LogFields = { call_session_id: callSessionId, called_number: did ?? to, caller_number: maskPhoneNumber(payload.from) };
  const reject = (cause: 'CALL_REJECTED' | 'USER_BUSY') =>
    command(c, callControlId, 'reject', { cause, command_id: `vca-reject-${callSessionId}` }, log);

  let call: CallEvent;
  try {
    call = await new TelnyxTelephonyAdapter(telnyx, c.var.db()).onInboundCall({
      // Caller-controlled text, never used for routing; kept to what a call record holds.
      caller_number: payload.from ? payload.from.replaceAll('\u0000', '').slice(0, 64) || null : null,
      called_number: to,
      did,
      call_id: callSessionId,
      timestamp: eventTime(payload.start_time ?? event.occurred_at),
    });
  } catch (error) {
    const unavailable = error instanceof ApiError ? error.code === 'database_unavailable' : isDatabaseUnavailable(error);
    if (!unavailable) throw error;
    c.var.log.warn('[TELNYX] database unavailable: rejected busy', log);
    await reject('USER_BUSY');
    return { outcome: 'busy', reason: 'database_unavailable', log };
  }

  if (call.event_type !== 'INITIATED') {
    const reason = call.event_type === 'FAILED' ? call.details.code : call.event_type;
    await reject('CALL_REJECTED');
    return { outcome: 'rejected', reason, log: { ...log, tenant_id: call.metadata.tenant_id } };
  }
  const callRecordId = call.details.call_record_id;
  const tenantId = call.metadata.tenant_id;
  const routed = { ...log, tenant_id: tenantId, ai_profile_id: call.details.ai_profile?.id };
  const e164 = did as string;

  // The call is ours to answer only while nothing has happened to it yet: a redelivery after
  // call.answered or call.hangup (beyond Telnyx's 60 s command_id window) must not answer again.
  const claimed = await recordCallProgress(c.var.db(), { did: e164, callId: callSessionId, status: 'ringing', at: nowSeconds() });
  if (claimed && claimed.status !== 'ringing') {
    return { outcome: 'already_handled', call_record_id: callRecordId, call_status: claimed.status, log: routed };
  }

  const answered = await command(
    c,
    callControlId,
    'answer',
    {
      command_id: `vca-answer-${callSessionId}`,
      client_state: btoa(callRecordId),
      // The URL names the call_control_id too (signed by its token), so the session can hang the
      // call up even if Telnyx's start never comes.
      stream_url: await telnyxStreamUrl(telnyx.publicBaseUrl, telnyx.apiKey, { tenantId, callRecordId, callControlId }),
      // The caller's audio to the agent, the agent's back into the call: μ-law 8 kHz both ways,
      // the session's one audio format (Telnyx transcodes the caller's leg to it).
      stream_track: 'inbound_track',
      stream_codec: 'PCMU',
      stream_bidirectional_mode: 'rtp',
      stream_bidirectional_codec: 'PCMU',
    },
    routed,
  );
  if (answered === 'ok') return { outcome: 'answered', call_record_id: callRecordId, call_status: 'ringing', log: routed };

  const cause = answered === 'call_gone' ? CALLER_GONE_CAUSE : NOT_ANSWERED_CAUSE;
  const [ended] = await recordCallsEnded(c.var.db(), [
    { did: e164, callId: callSessionId, endedAt: nowSeconds(), durationSeconds: 0, hangupCause: cause },
  ]);
  if (answered === 'call_gone') {
    return { outcome: 'call_gone', call_record_id: callRecordId, call_status: ended?.status, q850_cause: cause, log: routed };
  }
  // Telnyx is there but would not answer: end the call for the caller (busy: try again) rather
  // than let it ring out. Unreachable: Telnyx times the unanswered call out itself.
  if (answered === 'refused') await reject('USER_BUSY');
  return {
    outcome: 'failed',
    reason: `answer_${answered}`,
    call_record_id: callRecordId,
    call_status: ended?.status,
    q850_cause: cause,
    log: routed,
  };
}

async function callAnswered(c: Context<AppEnv>, event: Event, payload: TelnyxPayload): Promise<Outcome> {
  const { callSessionId, to } = callFields(payload, false);
  const did = normalizeDid(to, c.var.settings.DEFAULT_COUNTRY);
  const log: LogFields = { call_session_id: callSessionId, called_number: did ?? to };
  const call = did
    ? await recordCallProgress(c.var.db(), { did, callId: callSessionId, status: 'answered', at: eventTime(event.occurred_at) })
    : undefined;
  return progressOutcome(call, log);
}

async function callHangup(c: Context<AppEnv>, event: Event, payload: TelnyxPayload): Promise<Outcome> {
  const { callSessionId, to } = callFields(payload, false);
  const did = normalizeDid(to, c.var.settings.DEFAULT_COUNTRY);
  const hangupCause = payload.hangup_cause ?? 'unspecified';
  const end = ENDS.get(hangupCause) ?? UNKNOWN_END;
  const endedAt = eventTime(payload.end_time ?? event.occurred_at);
  const startedAt = payload.start_time ? believable(payload.start_time) : undefined;
  // Telnyx gives the call's start, not its answer: VCA answers at once, so the difference is the
  // webhook's round trip. A day at most: no call lasts longer (Telnyx's own limit is 4 h).
  const duration = end.talks && startedAt !== undefined ? Math.min(Math.max(endedAt - startedAt, 0), 86_400) : 0;
  const log: LogFields = {
    call_session_id: callSessionId,
    called_number: did ?? to,
    // Telnyx's own words, beside the Q.850 cause the call row keeps.
    hangup_cause: hangupCause.slice(0, 64),
    hangup_source: payload.hangup_source,
    sip_hangup_cause: payload.sip_hangup_cause,
    q850_cause: end.cause,
    duration_seconds: duration,
  };
  const [call] = did
    ? await recordCallsEnded(c.var.db(), [{ did, callId: callSessionId, endedAt, durationSeconds: duration, hangupCause: end.cause }])
    : [undefined];
  return { ...progressOutcome(call, log), hangup_cause: hangupCause.slice(0, 64), q850_cause: end.cause };
}

/**
 * The media stream of an answered call could not be opened (Telnyx's streaming.failed): the
 * caller would sit in silence, so the call is hung up. The event's stream_url — VCA's own, its
 * token checked — names the tenant, call record and call_control_id; it must agree with the
 * event's ids. Unless the call's session started (then a stream did open, and the session ends
 * the call itself), the call is recorded first — failed, cause 41, no talk time; its session
 * ended `error`, never started — so that Telnyx's call.hangup after VCA's hang-up cannot record it
 * as a normal end, then hung up with the command_id of every hang-up of the call, so a redelivery
 * is one command at Telnyx (or a call already gone). The database unreachable: hung up all the
 * same, and 503, so that Telnyx delivers the event again and the record is written then.
 */
async function streamingFailed(c: Context<AppEnv>, payload: TelnyxPayload): Promise<Outcome> {
  const log: LogFields = {
    call_session_id: payload.call_session_id,
    failure_reason: typeof payload.failure_reason === 'string' ? payload.failure_reason.slice(0, 200) : undefined,
  };
  // Worth a line of its own, whatever comes of it: the call's audio never reached the agent.
  c.var.log.warn('[TELNYX] streaming failed', log);
  const streamUrl = payload.stream_params?.stream_url;
  const path = streamUrl && URL.canParse(streamUrl) ? new URL(streamUrl).pathname : undefined;
  const route = path ? await verifyTelnyxMediaPath(c.var.telnyx.apiKey, path) : undefined;
  if (!route || route.callControlId !== payload.call_control_id) {
    return { outcome: 'unknown_call', reason: 'The event names no media stream VCA gave Telnyx for this call.', log };
  }
  const { tenantId, callRecordId, callControlId } = route;
  const routed = { ...log, tenant_id: tenantId, call_record_id: callRecordId };
  const hangUp = async () => command(c, callControlId, 'hangup', { command_id: await telnyxHangupCommandId(callRecordId) }, routed);

  let ended: { id: string; status: CallStatus } | undefined;
  try {
    const call = await findStreamCall(c.var.db(), tenantId, callRecordId);
    if (!call || call.externalCallId !== payload.call_session_id) {
      return { outcome: 'unknown_call', reason: 'No call with that call_session_id was recorded for the stream.', log: routed };
    }
    if (call.sessionStarted) {
      return {
        outcome: 'ignored',
        reason: 'The call’s session started: it ends the call itself.',
        call_record_id: callRecordId,
        log: routed,
      };
    }
    const at = nowSeconds();
    [ended] = await recordCallsEnded(c.var.db(), [
      { did: call.did, callId: call.externalCallId, endedAt: at, durationSeconds: 0, hangupCause: NOT_ANSWERED_CAUSE },
    ]);
    await recordSessionEnded(c.var.db(), tenantId, callRecordId, { at: new Date(at * 1000), reason: 'error', turns: [], summary: null });
  } catch (error) {
    if (isDatabaseUnavailable(error) || (error instanceof ApiError && error.code === 'database_unavailable')) await hangUp();
    throw error;
  }
  await hangUp();
  return {
    outcome: 'failed',
    reason: 'stream_failed',
    call_record_id: callRecordId,
    call_status: ended?.status,
    q850_cause: NOT_ANSWERED_CAUSE,
    log: routed,
  };
}

function progressOutcome(call: { id: string; status: CallStatus } | undefined, log: LogFields): Outcome {
  if (!call) return { outcome: 'unknown_call', reason: 'No call with that call_session_id was recorded for the dialled number.', log };
  return { outcome: 'recorded', call_record_id: call.id, call_status: call.status, log };
}

/** Sends a command; a failure is logged here, and what happened is the answer (never throws). */
async function command(
  c: Context<AppEnv>,
  callControlId: string,
  action: 'answer' | 'reject' | 'hangup',
  body: Record<string, unknown> & { command_id: string },
  log: LogFields,
): Promise<'ok' | 'call_gone' | 'refused' | 'unreachable'> {
  const result = await telnyxCallCommand(c.var.telnyx, callControlId, action, body);
  if (result.ok) return 'ok';
  if (result.reason === 'call_gone') {
    c.var.log.info(`[TELNYX] ${action}: the call had already ended`, { ...log, status: result.status, code: result.code });
  } else {
    c.var.log.error(`[TELNYX] ${action} failed`, { ...log, reason: result.reason, status: result.status, code: result.code });
  }
  return result.reason;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Unix seconds of an ISO 8601 time when it is a sensible one, else undefined. */
function believable(time: string): number | undefined {
  const parsed = Date.parse(time);
  // A clock more than a day off is not believed: an event is not far from its delivery.
  return Number.isFinite(parsed) && Math.abs(parsed - Date.now()) < 86_400_000 ? Math.floor(parsed / 1000) : undefined;
}

function eventTime(time: string | undefined): number {
  return (time ? believable(time) : undefined) ?? nowSeconds();
}
