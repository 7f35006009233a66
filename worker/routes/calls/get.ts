import { createRoute } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { calls } from '../../db/schema.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { notFound, problems } from '../../lib/problem.ts';
import { bearerSecurity, CallParams, jsonResponse } from '../openapi.ts';
import { CallSchema, presentCall } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/calls/{call_id}',
  tags: ['Calls'],
  summary: 'Get a call',
  security: bearerSecurity,
  request: { params: CallParams },
  responses: { 200: jsonResponse(CallSchema, 'The call'), ...problems(401, 404, 503) },
});

export function registerGetCall(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id, call_id } = c.req.valid('param');
    const [row] = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select()
        .from(calls)
        .where(and(eq(calls.tenantId, tenant_id), eq(calls.id, call_id))),
    );
    if (!row) throw notFound('call');
    return c.json(presentCall(row), 200);
  });
}
