import { createMiddleware } from 'hono/factory';
import { mediaSignedContent } from '../../../contract/media.ts';
import { verifyWebhook } from '../../../contract/signing.ts';
import type { AppEnv } from '../../lib/env.ts';
import { ApiError } from '../../lib/problem.ts';

/**
 * A media upgrade from the bridge carries a Standard Webhooks signature by one of
 * TELEPHONY_SIGNING_SECRETS over `GET <path>?<query>` (it has no body): the call and tenant it names
 * are what was signed. Checked before anything else is read; any failure is the same 401.
 */
export const requireMediaSignature = createMiddleware<AppEnv>(async (c, next) => {
  const url = new URL(c.req.url);
  const valid = await verifyWebhook(
    c.var.settings.TELEPHONY_SIGNING_SECRETS,
    { id: c.req.header('webhook-id'), timestamp: c.req.header('webhook-timestamp'), signature: c.req.header('webhook-signature') },
    new TextEncoder().encode(mediaSignedContent(`${url.pathname}${url.search}`)),
  );
  if (!valid) {
    c.var.log.warn('[CALL SESSION] rejected: invalid signature', { webhook_id: c.req.header('webhook-id')?.slice(0, 100) });
    throw new ApiError(401, 'invalid_signature', 'Unauthorized', 'The request is not signed with a current telephony signing secret.');
  }
  await next();
});
