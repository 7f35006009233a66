// Request rate limits with the Workers Rate Limiting binding: per API key or operator token on
// /api, per source address on /internal. The limits live in wrangler.toml ([[ratelimits]]).
import { createMiddleware } from 'hono/factory';
import { clientAddress } from './client-address.ts';
import type { AppEnv } from './env.ts';
import { ApiError } from './problem.ts';

/** The binding's window (wrangler.toml `period`): a client refused now may try again after it. */
const WINDOW_SECONDS = 60;

export async function enforce(limiter: RateLimit | undefined, key: string) {
  // Without the binding (a misconfigured deployment) requests are not limited rather than refused.
  if (!limiter) return;
  const { success } = await limiter.limit({ key });
  if (!success) {
    throw new ApiError(429, 'rate_limited', 'Too many requests', `Too many requests; try again in ${WINDOW_SECONDS} seconds.`, {
      headers: { 'retry-after': String(WINDOW_SECONDS) },
    });
  }
}

/** After authentication: one budget per credential. */
export const limitApi = createMiddleware<AppEnv>(async (c, next) => {
  await enforce(c.env.API_RATE_LIMITER, c.var.actor.id);
  await next();
});

/** Before signature checks, so a flood is cheap to refuse. */
export const limitIngest = createMiddleware<AppEnv>(async (c, next) => {
  await enforce(c.env.INGEST_RATE_LIMITER, `ingest:${clientAddress(c) ?? 'unknown'}`);
  await next();
});
