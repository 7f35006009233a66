import { createRoute } from '@hono/zod-openapi';
import { and, desc, eq, gte, lt } from 'drizzle-orm';
import { calls } from '../../db/schema.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { afterCursor, decodeCursor, pageQuery, toPage } from '../../lib/pagination.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonResponse, TenantParams } from '../openapi.ts';
import { CallListQuery, CallPageSchema, isoMicros, microsToIso, presentCall } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/calls',
  tags: ['Calls'],
  summary: 'List a tenant’s calls',
  description: 'Newest first. Calls are recorded by the telephony ingest; this API only reads them.',
  security: bearerSecurity,
  request: { params: TenantParams, query: CallListQuery.safeExtend(pageQuery) },
  responses: { 200: jsonResponse(CallPageSchema, 'A page of calls'), ...problems(400, 401, 404, 503) },
});

export function registerListCalls(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const { status, direction, carrier, from, to, limit, cursor } = c.req.valid('query');
    const after = decodeCursor(cursor);
    const rows = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select()
        .from(calls)
        .where(
          and(
            eq(calls.tenantId, tenant_id),
            status ? eq(calls.status, status) : undefined,
            direction ? eq(calls.direction, direction) : undefined,
            carrier ? eq(calls.carrier, carrier) : undefined,
            // As UTC with microseconds (a JS Date would drop them; Postgres refuses offsets past ±15:59).
            from ? gte(calls.startedAt, microsToIso(isoMicros(from))) : undefined,
            to ? lt(calls.startedAt, microsToIso(isoMicros(to))) : undefined,
            afterCursor(calls.createdAt, calls.id, after),
          ),
        )
        .orderBy(desc(calls.createdAt), desc(calls.id))
        .limit(limit + 1),
    );
    return c.json(toPage(rows, limit, presentCall), 200);
  });
}
