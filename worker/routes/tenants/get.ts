import { createRoute } from '@hono/zod-openapi';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonResponse, TenantParams } from '../openapi.ts';
import { presentTenant, TenantSchema } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}',
  tags: ['Tenants'],
  summary: 'Get a tenant',
  security: bearerSecurity,
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
