// What every Twilio request must pass before anything is read or recorded: Twilio must be
// configured (else 503), and the request must carry X-Twilio-Signature by the configured account's
// auth token over the URL Twilio was given — PUBLIC_BASE_URL + the path (and query) — and, for a
// webhook, its form parameters, which must also name the configured account. Any failure is the
// same 401, without saying which check failed. Used by the webhooks and the media WebSocket.
import { createMiddleware } from 'hono/factory';
import { twilioSettings } from '../../../lib/config.ts';
import type { AppEnv } from '../../../lib/env.ts';
import { ApiError } from '../../../lib/problem.ts';
import { verifyTwilioSignature } from '../../../telephony/twilio-signature.ts';

/** 503 twilio_not_configured unless TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL are set. */
export const requireTwilio = createMiddleware<AppEnv>(async (c, next) => {
  const twilio = twilioSettings(c.var.settings);
  if (!twilio.ok) {
    throw new ApiError(
      503,
      'twilio_not_configured',
      'Service unavailable',
      `Twilio is not configured on this service: ${twilio.missing.join(', ')} ${twilio.missing.length === 1 ? 'is' : 'are'} not set.`,
    );
  }
  c.set('twilio', twilio.twilio);
  await next();
});

/** A webhook (form POST): signed over URL + sorted parameters, and AccountSid is the configured account. */
export const requireTwilioSignature = createMiddleware<AppEnv>(async (c, next) => {
  const twilio = c.var.twilio;
  // Read as bytes: the route's form validator reads the same cached body afterwards.
  const body = new Uint8Array(await c.req.arrayBuffer());
  const form = /^application\/x-www-form-urlencoded\b/i.test(c.req.header('content-type') ?? '');
  const params = form ? [...new URLSearchParams(new TextDecoder().decode(body))] : [];
  const url = signedUrl(twilio.publicBaseUrl, c.req.url);
  const signed = await verifyTwilioSignature(twilio.authToken, c.req.header('x-twilio-signature'), url, params);
  const account = params.find(([name]) => name === 'AccountSid')?.[1];
  if (!signed || account !== twilio.accountSid) {
    const callSid = params.find(([name]) => name === 'CallSid')?.[1];
    c.var.log.warn(`[TWILIO] rejected: ${signed ? 'another account' : 'invalid signature'}`, {
      path: c.req.path,
      call_sid: callSid && /^CA[0-9a-fA-F]{32}$/.test(callSid) ? callSid : undefined,
    });
    throw invalidSignature();
  }
  await next();
});

/** A media WebSocket upgrade: signed over its wss:// URL alone (an upgrade has no parameters). */
export const requireTwilioMediaSignature = createMiddleware<AppEnv>(async (c, next) => {
  const twilio = c.var.twilio;
  const url = signedUrl(twilio.publicBaseUrl.replace(/^http/, 'ws'), c.req.url);
  if (!(await verifyTwilioSignature(twilio.authToken, c.req.header('x-twilio-signature'), url, []))) {
    c.var.log.warn('[CALL SESSION] rejected: invalid Twilio signature', { path: c.req.path });
    throw invalidSignature();
  }
  await next();
});

/** What Twilio signed: the configured public origin with this request's path and query as received. */
function signedUrl(publicOrigin: string, requestUrl: string): string {
  return publicOrigin + (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/is.exec(requestUrl)?.[1] ?? '');
}

const invalidSignature = () =>
  new ApiError(401, 'invalid_signature', 'Unauthorized', 'The request is not signed by the configured Twilio account.');
