import { createRoute } from '@hono/zod-openapi';
import { tenants } from '../../db/schema.ts';
import { recordAudit } from '../../lib/audit.ts';
import { operatorOnly } from '../../lib/auth.ts';
import { withNewTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonBody, jsonResponse } from '../openapi.ts';
import { CreateTenantBody, presentTenant, TenantSchema } from './schema.ts';

const route = createRoute({
  method: 'post',
  path: '/api/tenants',
  tags: ['Tenants'],
  summary: 'Create a tenant',
  security: bearerSecurity,
  middleware: [operatorOnly] as const,
  request: { body: jsonBody(CreateTenantBody) },
  responses: { 201: jsonResponse(TenantSchema, 'The new tenant'), ...problems(400, 401, 413, 415, 503) },
});

export function registerCreateTenant(app: App) {
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    // The new tenant's id is chosen here so the row can be written under its own tenant setting,
    // the only way row-level security lets a tenant row in.
    const id = crypto.randomUUID();
    const [row] = await withNewTenant(c.var.db(), id, async (tx) => {
      const inserted = await tx.insert(tenants).values({ id, name: body.name, plan: body.plan, status: body.status }).returning();
      await recordAudit(tx, c, { tenantId: id, action: 'tenant.created', resourceType: 'tenant', resourceId: id, changes: body });
      return inserted;
    });
    if (!row) throw new Error('insert returned no row');
    return c.json(presentTenant(row), 201, { location: `/api/tenants/${row.id}` });
  });
}
