import { createRoute } from '@hono/zod-openapi';
import { apiKeys } from '../../db/schema.ts';
import { recordAudit } from '../../lib/audit.ts';
import { generateApiKey, operatorOnly } from '../../lib/auth.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonBody, jsonResponse, TenantParams } from '../openapi.ts';
import { CreateApiKeyBody, CreatedApiKeySchema, presentApiKey } from './schema.ts';

const route = createRoute({
  method: 'post',
  path: '/api/tenants/{tenant_id}/api-keys',
  tags: ['API keys'],
  summary: 'Issue an API key for a tenant',
  description: 'Operator only. The answer carries the secret in `key`, once; only its SHA-256 hash is stored.',
  security: bearerSecurity,
  middleware: [operatorOnly] as const,
  request: { params: TenantParams, body: jsonBody(CreateApiKeyBody) },
  responses: { 201: jsonResponse(CreatedApiKeySchema, 'The new key, with its secret'), ...problems(400, 401, 403, 404, 413, 415, 503) },
});

export function registerCreateApiKey(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const key = await generateApiKey();
    const row = await withTenant(c.var.db(), tenant_id, async (tx) => {
      const [inserted] = await tx
        .insert(apiKeys)
        .values({ tenantId: tenant_id, name: body.name, prefix: key.prefix, secretHash: key.hash, expiresAt: body.expires_at ?? null })
        .returning();
      if (!inserted) throw new Error('insert returned no row');
      await recordAudit(tx, c, {
        tenantId: tenant_id,
        action: 'api_key.created',
        resourceType: 'api_key',
        resourceId: inserted.id,
        changes: { name: body.name, expires_at: body.expires_at ?? null },
      });
      return inserted;
    });
    return c.json({ ...presentApiKey(row), key: key.secret }, 201, { location: `/api/tenants/${tenant_id}/api-keys/${row.id}` });
  });
}
