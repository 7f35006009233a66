import { createRoute } from '@hono/zod-openapi';
import { eq, sql } from 'drizzle-orm';
import { tenants } from '../../db/schema.ts';
import { recordAudit } from '../../lib/audit.ts';
import { operatorOnly } from '../../lib/auth.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonBody, jsonResponse, TenantParams } from '../openapi.ts';
import { presentTenant, TenantSchema, UpdateTenantBody } from './schema.ts';

const route = createRoute({
  method: 'patch',
  path: '/api/tenants/{tenant_id}',
  tags: ['Tenants'],
  summary: 'Change a tenant’s status or plan',
  description: 'Only `status` and `plan` can change. A suspended or deleted tenant’s numbers stop receiving calls.',
  security: bearerSecurity,
  middleware: [operatorOnly] as const,
  request: { params: TenantParams, body: jsonBody(UpdateTenantBody) },
  responses: { 200: jsonResponse(TenantSchema, 'The updated tenant'), ...problems(400, 401, 404, 413, 415, 503) },
});

export function registerUpdateTenant(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const row = await withTenant(c.var.db(), tenant_id, async (tx) => {
      const [updated] = await tx
        .update(tenants)
        .set({ status: body.status, plan: body.plan, updatedAt: sql`now()` })
        .where(eq(tenants.id, tenant_id))
        .returning();
      await recordAudit(tx, c, {
        tenantId: tenant_id,
        action: 'tenant.updated',
        resourceType: 'tenant',
        resourceId: tenant_id,
        changes: body,
      });
      return updated;
    });
    if (!row) throw new Error('update returned no row');
    return c.json(presentTenant(row), 200);
  });
}
