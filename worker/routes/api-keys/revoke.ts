import { createRoute } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { apiKeys } from '../../db/schema.ts';
import { recordAudit } from '../../lib/audit.ts';
import { operatorOnly } from '../../lib/auth.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { notFound, problems } from '../../lib/problem.ts';
import { ApiKeyParams, bearerSecurity } from '../openapi.ts';

const route = createRoute({
  method: 'delete',
  path: '/api/tenants/{tenant_id}/api-keys/{api_key_id}',
  tags: ['API keys'],
  summary: 'Revoke an API key',
  description: 'Operator only. The key stops working at once; its row stays, with `revoked_at`. Revoking again changes nothing.',
  security: bearerSecurity,
  middleware: [operatorOnly] as const,
  request: { params: ApiKeyParams },
  responses: { 204: { description: 'Revoked' }, ...problems(401, 403, 404, 503) },
});

export function registerRevokeApiKey(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id, api_key_id } = c.req.valid('param');
    await withTenant(c.var.db(), tenant_id, async (tx) => {
      const [key] = await tx
        .select({ id: apiKeys.id, revokedAt: apiKeys.revokedAt })
        .from(apiKeys)
        .where(and(eq(apiKeys.tenantId, tenant_id), eq(apiKeys.id, api_key_id)))
        .for('update');
      if (!key) throw notFound('api key');
      if (key.revokedAt) return;
      await tx.update(apiKeys).set({ revokedAt: sql`now()` }).where(eq(apiKeys.id, api_key_id));
      await recordAudit(tx, c, {
        tenantId: tenant_id,
        action: 'api_key.revoked',
        resourceType: 'api_key',
        resourceId: api_key_id,
        changes: { revoked: true },
      });
    });
    return c.body(null, 204);
  });
}
