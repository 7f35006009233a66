// What every Telnyx webhook must pass before anything is read or recorded: the Ed25519 signature
// of `${telnyx-timestamp}|${raw body}` by TELNYX_PUBLIC_KEY, with a timestamp within 300 s of the
// Worker's clock. Any failure is the same 401, without saying which check failed; the log says
// which, because a clock off by minutes and a wrong key are fixed in different places.
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../../../lib/env.ts';
import { ApiError } from '../../../lib/problem.ts';
import { checkTelnyxSignature } from '../../../telephony/telnyx-signature.ts';

export const requireTelnyxSignature = createMiddleware<AppEnv>(async (c, next) => {
  // Read as bytes: the route's JSON validator reads the same cached body afterwards.
  const body = new Uint8Array(await c.req.arrayBuffer());
  const timestamp = c.req.header('telnyx-timestamp');
  const check = await checkTelnyxSignature(c.var.telnyx.publicKey, c.req.header('telnyx-signature-ed25519'), timestamp, body);
  if (!check.ok) {
    c.var.log.warn('[TELNYX] rejected', {
      path: c.req.path,
      reason: check.reason,
      // The skew, for a stale timestamp: the fix is the clock, not the key.
      skew_s: check.reason === 'stale_timestamp' ? Math.floor(Date.now() / 1000) - Number(timestamp) : undefined,
    });
    throw new ApiError(401, 'invalid_signature', 'Unauthorized', 'The request is not signed by the configured Telnyx account.');
  }
  await next();
});
