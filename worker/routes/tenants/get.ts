import { createRoute } from '@hono/zod-openapi';
import type { App } from '../../lib/app.ts';
import { withTenant } from '../../lib/db.ts';
import { problems } from '../../lib/problem.ts';
import { jsonResponse, operatorSecurity, TenantParams } from '../params.ts';
import { presentTenant, TenantSchema } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}',
  tags: ['Tenants'],
  summary: 'Get a tenant',
  security: operatorSecurity,
  request: { params: TenantParams },
  responses: { 200: jsonResponse(TenantSchema, 'The tenant'), ...problems(401, 404, 503) },
});

export function registerGetTenant(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const tenant = await withTenant(c.var.db(), tenant_id, async (_tx, tenant) => tenant);
    return c.json(presentTenant(tenant), 200);
  });
}
