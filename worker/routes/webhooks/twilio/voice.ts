import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { maskPhoneNumber } from '../../../../contract/ingest.ts';
import { normalizeDid } from '../../../../contract/phone.ts';
import { isDatabaseUnavailable } from '../../../lib/db.ts';
import type { App, AppEnv } from '../../../lib/env.ts';
import { ApiError } from '../../../lib/problem.ts';
import type { CallEvent } from '../../../telephony/adapter.ts';
import { TWILIO_WEBHOOK_PATHS, TwilioTelephonyAdapter, twilioMediaUrl } from '../../../telephony/twilio.ts';
import { TwilioVoiceForm, twilioProblems } from './schema.ts';

const route = createRoute({
  method: 'post',
  path: TWILIO_WEBHOOK_PATHS.voice,
  tags: ['Twilio'],
  summary: 'A call to a Twilio number arrived: resolve its tenant, record it, and answer with TwiML',
  description: [
    'Twilio’s voice webhook (the number’s voice URL, set by attaching it), a form POST signed with `X-Twilio-Signature`.',
    'The tenant comes only from `To`, looked up strictly among the `twilio` numbers in the same one-statement resolve-and-record as the bridge’s ingest; the call is idempotent on `CallSid`, so Twilio’s retries answer the same TwiML and record one call.',
    'Routed: `<Connect><Stream url="wss://…/internal/media/twilio/{tenant_id}/{call_record_id}">` with the call record id and tenant id as stream parameters, which streams the call into its AI session.',
    'Unknown, deactivated or another carrier’s number, or an inactive tenant: `<Reject reason="rejected"/>`. Database unreachable: `<Reject reason="busy"/>` (logged), so the caller hears busy rather than an error.',
    'Unsigned, wrongly signed or another account’s requests: 401, nothing recorded. Twilio not configured: 503.',
  ].join(' '),
  security: [{ twilioSignature: [] }],
  request: { body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: TwilioVoiceForm } } } },
  responses: {
    200: {
      description: 'TwiML',
      content: { 'text/xml': { schema: z.string().openapi({ example: '<Response><Reject reason="rejected"/></Response>' }) } },
    },
    ...twilioProblems(400, 401, 413, 415, 503),
  },
});

export function registerTwilioVoice(app: App) {
  app.openapi(route, async (c) => {
    const form = c.req.valid('form');
    const twilio = c.var.twilio;
    const did = normalizeDid(form.To, c.var.settings.DEFAULT_COUNTRY);
    const fields = { call_sid: form.CallSid, called_number: did ?? form.To, caller_number: maskPhoneNumber(form.From) };
    let event: CallEvent;
    try {
      event = await new TwilioTelephonyAdapter(twilio, c.var.db()).onInboundCall({
        // Caller-controlled text, never used for routing; kept to what a call record holds.
        caller_number: form.From ? form.From.replaceAll('\u0000', '').slice(0, 64) || null : null,
        called_number: form.To,
        did,
        call_id: form.CallSid,
        timestamp: Math.floor(Date.now() / 1000),
      });
    } catch (error) {
      const unavailable = error instanceof ApiError ? error.code === 'database_unavailable' : isDatabaseUnavailable(error);
      if (!unavailable) throw error;
      c.var.log.warn('[TWILIO VOICE] database unavailable: answered busy', fields);
      c.set('logEntry', { msg: '[TWILIO VOICE] rejected', fields: { ...fields, outcome: 'database_unavailable' } });
      return twiml(c, reject('busy'));
    }

    if (event.event_type !== 'INITIATED') {
      const outcome = event.event_type === 'FAILED' ? event.details.code : event.event_type;
      c.set('logEntry', { msg: '[TWILIO VOICE] rejected', fields: { ...fields, outcome, tenant_id: event.metadata.tenant_id } });
      return twiml(c, reject('rejected'));
    }
    const route = { tenant_id: event.metadata.tenant_id, call_record_id: event.details.call_record_id };
    c.set('logEntry', {
      msg: '[TWILIO VOICE] routed',
      fields: { ...fields, outcome: 'success', ...route, ai_profile_id: event.details.ai_profile?.id },
    });
    return twiml(c, stream(twilioMediaUrl(twilio.publicBaseUrl, route), route));
  });
}

function twiml(c: Context<AppEnv>, document: string): Response {
  return c.body(`<?xml version="1.0" encoding="UTF-8"?>${document}`, 200, { 'content-type': 'text/xml; charset=utf-8' });
}

/** <Connect><Stream>: a bidirectional Media Stream, so the agent can speak back on the same socket. */
function stream(url: string, parameters: Record<string, string>): string {
  const nouns = Object.entries(parameters)
    .map(([name, value]) => `<Parameter name="${xml(name)}" value="${xml(value)}"/>`)
    .join('');
  return `<Response><Connect><Stream url="${xml(url)}">${nouns}</Stream></Connect></Response>`;
}

function reject(reason: 'rejected' | 'busy'): string {
  return `<Response><Reject reason="${reason}"/></Response>`;
}

function xml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
