// Every Telnyx route (the Call Control webhook and the media WebSocket) needs Telnyx configured
// first: without its API key, public key, connection and the public origin, Telnyx is off (503).
import { createMiddleware } from 'hono/factory';
import { telnyxSettings } from '../../../lib/config.ts';
import type { AppEnv } from '../../../lib/env.ts';
import { ApiError } from '../../../lib/problem.ts';

/** 503 telnyx_not_configured unless TELNYX_API_KEY, TELNYX_PUBLIC_KEY, TELNYX_CONNECTION_ID and PUBLIC_BASE_URL are set. */
export const requireTelnyx = createMiddleware<AppEnv>(async (c, next) => {
  const telnyx = telnyxSettings(c.var.settings);
  if (!telnyx.ok) {
    throw new ApiError(
      503,
      'telnyx_not_configured',
      'Service unavailable',
      `Telnyx is not configured on this service: ${telnyx.missing.join(', ')} ${telnyx.missing.length === 1 ? 'is' : 'are'} not set.`,
    );
  }
  c.set('telnyx', telnyx.telnyx);
  await next();
});
