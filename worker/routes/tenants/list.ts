import { createRoute } from '@hono/zod-openapi';
import { listTenants } from '../../db/cross-tenant.ts';
import { operatorOnly } from '../../lib/auth.ts';
import type { App } from '../../lib/env.ts';
import { decodeCursor, pageQuery, toPage } from '../../lib/pagination.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonResponse } from '../openapi.ts';
import { presentTenant, TenantListQuery, TenantPageSchema } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants',
  tags: ['Tenants'],
  summary: 'List tenants',
  description: 'All tenants, newest first, including suspended and deleted ones. Operator only.',
  security: bearerSecurity,
  middleware: [operatorOnly] as const,
  request: { query: TenantListQuery.extend(pageQuery) },
  responses: { 200: jsonResponse(TenantPageSchema, 'A page of tenants'), ...problems(400, 401, 503) },
});

export function registerListTenants(app: App) {
  app.openapi(route, async (c) => {
    const { status, limit, cursor } = c.req.valid('query');
    // The one cross-tenant read of the admin API, the operator's view: row-level security hides
    // every other tenant, so it goes through the definer door.
    const rows = await listTenants(c.var.db(), { status, after: decodeCursor(cursor), limit: limit + 1 });
    return c.json(toPage(rows, limit, presentTenant), 200);
  });
}
