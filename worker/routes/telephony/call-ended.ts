import { createRoute } from '@hono/zod-openapi';
import { CallEndedAnswer, CallEndedPayload, type CallEndedAnswer as EndedAnswer } from '../../../contract/ingest.ts';
import { type CallEnd, type EndedCall, recordCallsEnded } from '../../db/cross-tenant.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { jsonBody, jsonResponse } from '../openapi.ts';
import { dialledDid } from './dialled-number.ts';

const route = createRoute({
  method: 'post',
  path: '/internal/telephony/call-ended',
  tags: ['Telephony ingest'],
  summary: 'A call ended: record its end, talk time and hangup cause',
  description:
    'Signed like /inbound. The call is found by (tenant of the dialled number, call id), also after the number or tenant was deactivated. It becomes `failed` when its talk time is 0 and the hangup cause is not normal clearing (16, or 0), otherwise `ended`. The first end wins; repeats change nothing and answer the same.',
  security: [{ webhookSignature: [] }],
  request: { body: jsonBody(CallEndedPayload) },
  responses: { 200: jsonResponse(CallEndedAnswer, 'The call’s final state'), ...problems(400, 401, 403, 413, 415, 503) },
});

export function registerCallEnded(app: App) {
  app.openapi(route, async (c) => {
    const payload = c.req.valid('json');
    const did = dialledDid(c, payload.called_number);
    // The batch statement with one event: the call-end rules live in one SQL function.
    const [call] = await recordCallsEnded(c.var.db(), [callEnd(payload, did)]);
    const answer = endedAnswer(call);
    c.set('logEntry', {
      msg: `[CALL ENDED] ${call ? 'recorded' : 'rejected'}`,
      fields: { webhook_id: c.req.header('webhook-id'), ...endedLogFields(payload, did, call) },
    });
    return c.json(answer, 200);
  });
}

/** What the statement needs of an event; `did` is its dialled number, normalised (dialledDid). */
export function callEnd(payload: CallEndedPayload, did: string | null): CallEnd {
  return {
    did,
    callId: payload.call_id,
    endedAt: payload.ended_at,
    durationSeconds: payload.duration_seconds,
    hangupCause: payload.hangup_cause,
  };
}

export function endedAnswer(call: EndedCall | undefined): EndedAnswer {
  return call
    ? { status: 'success', call_record_id: call.id, call_status: call.status }
    : { status: 'error', code: 'unknown_call', message: 'No call with that id was recorded for the dialled number.' };
}

export function endedLogFields(payload: CallEndedPayload, did: string | null, call: EndedCall | undefined) {
  return {
    outcome: call ? call.status : 'unknown_call',
    call_id: payload.call_id,
    called_number: did ?? undefined,
    call_record_id: call?.id,
    duration_seconds: payload.duration_seconds,
    hangup_cause: payload.hangup_cause,
  };
}
