import { createMiddleware } from 'hono/factory';
import { verifyWebhook } from '../../../contract/signing.ts';
import type { AppEnv } from '../../lib/env.ts';
import { ApiError } from '../../lib/problem.ts';

/**
 * Every /internal/telephony request must carry a Standard Webhooks signature by one of
 * TELEPHONY_SIGNING_SECRETS over its exact body (empty for GET /routes). Any failure is the same 401: no hint which check failed.
 */
export const requireSignature = createMiddleware<AppEnv>(async (c, next) => {
  const body = new Uint8Array(await c.req.arrayBuffer());
  const valid = await verifyWebhook(
    c.var.settings.TELEPHONY_SIGNING_SECRETS,
    { id: c.req.header('webhook-id'), timestamp: c.req.header('webhook-timestamp'), signature: c.req.header('webhook-signature') },
    body,
  );
  if (!valid) {
    c.var.log.warn(`${logPrefix(c.req.path)} rejected: invalid signature`, { webhook_id: c.req.header('webhook-id')?.slice(0, 100) });
    throw new ApiError(401, 'invalid_signature', 'Unauthorized', 'The request is not signed with a current telephony signing secret.');
  }
  await next();
});

/** The tag the route's own log lines carry, so a refused request is found beside the accepted ones. */
function logPrefix(path: string) {
  if (path.startsWith('/internal/telephony/call-ended')) return '[CALL ENDED]';
  if (path.startsWith('/internal/telephony/inbound')) return '[INBOUND CALL]';
  if (path.startsWith('/internal/telephony/routes')) return '[ROUTES]';
  return '[TELEPHONY]';
}
