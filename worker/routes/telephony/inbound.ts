import { createRoute } from '@hono/zod-openapi';
import {
  type InboundCallAnswer as InboundAnswer,
  InboundCallAnswer,
  InboundCallPayload,
  type InboundErrorCode,
  maskPhoneNumber,
} from '../../../contract/ingest.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import type { CallEvent } from '../../telephony/adapter.ts';
import { TataTelephonyAdapter } from '../../telephony/tata.ts';
import { jsonBody, jsonResponse } from '../openapi.ts';
import { dialledDid } from './dialled-number.ts';

const route = createRoute({
  method: 'post',
  path: '/internal/telephony/inbound',
  tags: ['Telephony ingest'],
  summary: 'A call arrived: resolve its tenant and AI profile, and record it',
  description:
    'Called by the bridge beside Asterisk, signed with Standard Webhooks headers. The tenant comes only from the dialled DID. Idempotent on the call id: a repeat answers with the same call record. Business outcomes (unknown, inactive number, inactive tenant) are 200 with `status: "error"`.',
  security: [{ webhookSignature: [] }],
  request: { body: jsonBody(InboundCallPayload) },
  responses: { 200: jsonResponse(InboundCallAnswer, 'The routing answer'), ...problems(400, 401, 403, 413, 415, 503) },
});

const messages: Record<InboundErrorCode, string> = {
  unknown_did: 'No tenant owns the dialled number.',
  inactive_did: 'The dialled number is deactivated.',
  tenant_inactive: 'The tenant that owns the dialled number is not active.',
};

export function registerInboundCall(app: App) {
  app.openapi(route, async (c) => {
    const payload = c.req.valid('json');
    const event = await new TataTelephonyAdapter(c.var.db()).onInboundCall({
      caller_number: payload.caller_number ? payload.caller_number : null,
      called_number: payload.called_number,
      did: dialledDid(c, payload.called_number),
      call_id: payload.call_id,
      timestamp: payload.timestamp,
    });
    const answer = inboundAnswer(event);
    c.set('logEntry', {
      msg: `[INBOUND CALL] ${answer.status === 'success' ? 'recorded' : 'rejected'}`,
      fields: {
        webhook_id: c.req.header('webhook-id'),
        outcome: answer.status === 'success' ? 'success' : answer.code,
        call_id: payload.call_id,
        called_number: event.metadata.called_number,
        caller_number: maskPhoneNumber(payload.caller_number),
        tenant_id: event.metadata.tenant_id,
        call_record_id: answer.status === 'success' ? answer.call_record_id : undefined,
        ai_profile_id: answer.status === 'success' ? answer.ai_profile?.id : undefined,
      },
    });
    return c.json(answer, 200);
  });
}

function inboundAnswer(event: CallEvent): InboundAnswer {
  if (event.event_type === 'INITIATED') {
    const profile = event.details.ai_profile;
    return {
      status: 'success',
      call_record_id: event.details.call_record_id,
      tenant_id: event.metadata.tenant_id,
      phone_number_id: event.metadata.phone_number_id,
      ai_profile: profile,
      message: profile ? `Call recorded; route to AI profile "${profile.name}".` : 'Call recorded; the tenant has no default AI profile.',
    };
  }
  if (event.event_type === 'FAILED') return { status: 'error', code: event.details.code, message: messages[event.details.code] };
  // onInboundCall answers only INITIATED or FAILED.
  throw new Error(`unexpected ${event.event_type} event for an inbound call`);
}
