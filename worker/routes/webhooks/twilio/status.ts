import { createRoute } from '@hono/zod-openapi';
import { normalizeDid } from '../../../../contract/phone.ts';
import { type CallStatus, recordCallProgress, recordCallsEnded } from '../../../db/cross-tenant.ts';
import type { App } from '../../../lib/env.ts';
import { TWILIO_WEBHOOK_PATHS } from '../../../telephony/twilio.ts';
import { jsonResponse } from '../../openapi.ts';
import { TwilioStatusAnswer, TwilioStatusForm, twilioProblems } from './schema.ts';

/**
 * What each final CallStatus records, as the call-end rule reads it (failed: no talk time and a
 * cause that is not normal clearing). Twilio gives no Q.850 cause, so each status gets the one
 * that means it: 16 normal clearing, 17 user busy, 19 no answer, 41 temporary failure, 31 normal
 * unspecified (the caller gave up before the call was answered).
 */
const ENDS = new Map<string, { cause: number; talks: boolean }>([
  ['completed', { cause: 16, talks: true }],
  ['busy', { cause: 17, talks: false }],
  ['no-answer', { cause: 19, talks: false }],
  ['failed', { cause: 41, talks: false }],
  ['canceled', { cause: 31, talks: false }],
]);
const PROGRESS = new Map<string, 'ringing' | 'answered'>([
  ['ringing', 'ringing'],
  ['in-progress', 'answered'],
]);

const route = createRoute({
  method: 'post',
  path: TWILIO_WEBHOOK_PATHS.status,
  tags: ['Twilio'],
  summary: 'A Twilio call’s status changed: move the call through its lifecycle',
  description: [
    'Twilio’s status callback (set on the number by attaching it), signed like the voice webhook.',
    'The call is found by (tenant of `To`, `CallSid`), also after the number or tenant was deactivated.',
    '`ringing` → ringing; `in-progress` → answered (answered_at set); `completed` → ended with `CallDuration` as the talk time (hangup cause 16);',
    '`busy`, `no-answer`, `failed`, `canceled` → failed (causes 17, 19, 41, 31). `queued` and `initiated` change nothing.',
    'A call only moves forward: repeated or out-of-order callbacks never move it back, and the first end wins (the call-end rules of /internal/telephony/call-ended).',
  ].join(' '),
  security: [{ twilioSignature: [] }],
  request: { body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: TwilioStatusForm } } } },
  responses: { 200: jsonResponse(TwilioStatusAnswer, 'The call’s status after the callback'), ...twilioProblems(400, 401, 413, 415, 503) },
});

export function registerTwilioStatus(app: App) {
  app.openapi(route, async (c) => {
    const form = c.req.valid('form');
    const did = normalizeDid(form.To, c.var.settings.DEFAULT_COUNTRY);
    const at = eventTime(form.Timestamp);
    const fields = { call_sid: form.CallSid, called_number: did ?? form.To, twilio_status: form.CallStatus };
    const end = ENDS.get(form.CallStatus);
    const progress = PROGRESS.get(form.CallStatus);

    let call: { id: string; status: CallStatus } | undefined;
    if (!end && !progress) {
      c.set('logEntry', { msg: '[TWILIO STATUS] ignored', fields });
      return c.json({ status: 'ignored' as const, message: `CallStatus ${form.CallStatus} changes nothing.` }, 200);
    }
    if (did && end) {
      const duration = end.talks ? Number(form.CallDuration ?? 0) : 0;
      [call] = await recordCallsEnded(c.var.db(), [
        { did, callId: form.CallSid, endedAt: at, durationSeconds: duration, hangupCause: end.cause },
      ]);
    } else if (did && progress) {
      call = await recordCallProgress(c.var.db(), { did, callId: form.CallSid, status: progress, at });
    }
    c.set('logEntry', {
      msg: `[TWILIO STATUS] ${call ? 'recorded' : 'rejected'}`,
      fields: { ...fields, outcome: call ? call.status : 'unknown_call', call_record_id: call?.id },
    });
    if (!call) {
      return c.json(
        {
          status: 'error' as const,
          code: 'unknown_call' as const,
          message: 'No call with that CallSid was recorded for the dialled number.',
        },
        200,
      );
    }
    return c.json({ status: 'success' as const, call_record_id: call.id, call_status: call.status }, 200);
  });
}

/** Unix seconds of Twilio's Timestamp (RFC 2822) when it is a sensible one; now otherwise. */
function eventTime(timestamp: string | undefined): number {
  const now = Date.now();
  const parsed = timestamp ? Date.parse(timestamp) : Number.NaN;
  // A clock more than a day off is not believed: the end of a call is not far from its callback.
  return Math.floor((Number.isFinite(parsed) && Math.abs(parsed - now) < 86_400_000 ? parsed : now) / 1000);
}
