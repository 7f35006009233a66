import { createRoute, z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import type { App } from '../lib/env.ts';
import { jsonResponse } from './openapi.ts';

const DATABASE_CHECK_TIMEOUT_MS = 3_000;

const HealthSchema = z
  .object({
    status: z.enum(['ok', 'error']),
    checks: z.object({
      config: z.string().openapi({ description: '"ok", or which settings are missing or invalid (never their values)' }),
      database: z.string().openapi({ description: '"ok", or what is wrong' }),
    }),
  })
  .openapi('Health');

const route = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['Service'],
  summary: 'Configuration and database check',
  responses: {
    200: jsonResponse(HealthSchema, 'Everything is ok'),
    503: jsonResponse(HealthSchema, 'Something is wrong; the checks say what'),
  },
});

export function registerHealth(app: App) {
  app.openapi(route, async (c) => {
    const config = c.var.config;
    const checks = {
      config: config.ok ? 'ok' : `missing or invalid: ${config.problems.join('; ')}`,
      database: config.ok ? await checkDatabase(() => c.var.db().execute(sql`select 1`)) : 'not checked: configuration is invalid',
    };
    const ok = checks.config === 'ok' && checks.database === 'ok';
    return c.json({ status: ok ? ('ok' as const) : ('error' as const), checks }, ok ? 200 : 503);
  });
}

async function checkDatabase(query: () => Promise<unknown>): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`unreachable: no answer within ${DATABASE_CHECK_TIMEOUT_MS} ms`), DATABASE_CHECK_TIMEOUT_MS);
  });
  try {
    // The driver's message is not passed on: it can name hosts and users.
    return await Promise.race([
      query().then(
        () => 'ok',
        () => 'unreachable: the query failed',
      ),
      timeout,
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
