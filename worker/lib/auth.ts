// Operator authentication: `Authorization: Bearer <token>` against ADMIN_API_TOKENS. Several
// tokens may be listed so one can be rotated without downtime.
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './app.ts';
import { ApiError } from './problem.ts';

const BEARER = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i;

export const requireOperator = createMiddleware<AppEnv>(async (c, next) => {
  const match = BEARER.exec(c.req.header('authorization') ?? '');
  const presented = match?.[1];
  if (!presented || !(await matchesAny(presented, c.var.settings.ADMIN_API_TOKENS))) {
    throw new ApiError(401, 'unauthorized', 'Unauthorized', 'Send a valid operator token as "Authorization: Bearer <token>".', undefined, {
      'www-authenticate': presented ? 'Bearer realm="vca", error="invalid_token"' : 'Bearer realm="vca"',
    });
  }
  c.set('actor', { type: 'operator' });
  await next();
});

// Compare SHA-256 digests so lengths never differ, and check every configured token so the time
// taken does not reveal which one (or how much of one) matched.
async function matchesAny(presented: string, tokens: string[]): Promise<boolean> {
  const want = await digest(presented);
  let matched = 0;
  for (const token of tokens) {
    const have = await digest(token);
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff |= (want[i] as number) ^ (have[i] as number);
    matched |= diff === 0 ? 1 : 0;
  }
  return matched === 1;
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}
