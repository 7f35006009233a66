import { createRoute } from '@hono/zod-openapi';
import { CallEndedAnswer, CallEndedPayload, type CallEndedAnswer as EndedAnswer } from '../../../contract/ingest.ts';
import { normalizeDid } from '../../../contract/phone.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { recordCallEnded } from '../../telephony/calls.ts';
import { jsonBody, jsonResponse } from '../openapi.ts';

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
    const did = normalizeDid(payload.called_number, c.var.settings.DEFAULT_COUNTRY);
    const call = did ? await recordCallEnded(c.var.db(), { did, ...callEnd(payload) }) : undefined;
    const answer = endedAnswer(call);
    c.set('logEntry', {
      msg: `[CALL ENDED] ${call ? 'recorded' : 'rejected'}`,
      fields: { webhook_id: c.req.header('webhook-id'), ...endedLogFields(payload, did, call) },
    });
    return c.json(answer, 200);
  });
}

type EndedCall = { id: string; status: 'ended' | 'failed' } | undefined;

/** What the statement needs of an event, but the dialled number (normalised by the caller). */
export function callEnd(payload: CallEndedPayload) {
  return {
    callId: payload.call_id,
    endedAtSeconds: payload.ended_at,
    durationSeconds: payload.duration_seconds,
    hangupCause: payload.hangup_cause,
  };
}

export function endedAnswer(call: EndedCall): EndedAnswer {
  return call
    ? { status: 'success', call_record_id: call.id, call_status: call.status }
    : { status: 'error', code: 'unknown_call', message: 'No call with that id was recorded for the dialled number.' };
}

export function endedLogFields(payload: CallEndedPayload, did: string | null, call: EndedCall) {
  return {
    outcome: call ? call.status : 'unknown_call',
    call_id: payload.call_id,
    called_number: did ?? undefined,
    call_record_id: call?.id,
    duration_seconds: payload.duration_seconds,
    hangup_cause: payload.hangup_cause,
  };
}
