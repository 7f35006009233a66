import { createRoute } from '@hono/zod-openapi';
import { and, desc, eq } from 'drizzle-orm';
import { tenants } from '../../db/schema.ts';
import type { App } from '../../lib/app.ts';
import { afterCursor, decodeCursor, pageQuery, toPage } from '../../lib/pagination.ts';
import { problems } from '../../lib/problem.ts';
import { jsonResponse, operatorSecurity } from '../params.ts';
import { presentTenant, TenantListQuery, TenantPageSchema } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants',
  tags: ['Tenants'],
  summary: 'List tenants',
  description: 'All tenants, newest first, including suspended and deleted ones. Operator only.',
  security: operatorSecurity,
  request: { query: TenantListQuery.extend(pageQuery) },
  responses: { 200: jsonResponse(TenantPageSchema, 'A page of tenants'), ...problems(400, 401, 503) },
});

export function registerListTenants(app: App) {
  app.openapi(route, async (c) => {
    const { status, limit, cursor } = c.req.valid('query');
    const after = decodeCursor(cursor);
    // The tenant list is the one cross-tenant read of the admin API: the operator's view.
    const rows = await c.var
      .db()
      .select()
      .from(tenants)
      .where(and(status ? eq(tenants.status, status) : undefined, afterCursor(tenants.createdAt, tenants.id, after)))
      .orderBy(desc(tenants.createdAt), desc(tenants.id))
      .limit(limit + 1);
    return c.json(toPage(rows, limit, presentTenant), 200);
  });
}
