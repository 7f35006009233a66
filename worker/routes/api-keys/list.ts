import { createRoute, z } from '@hono/zod-openapi';
import { and, desc, eq } from 'drizzle-orm';
import { apiKeys } from '../../db/schema.ts';
import { operatorOnly } from '../../lib/auth.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { afterCursor, decodeCursor, pageQuery, toPage } from '../../lib/pagination.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonResponse, TenantParams } from '../openapi.ts';
import { ApiKeyPageSchema, presentApiKey } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/api-keys',
  tags: ['API keys'],
  summary: 'List a tenant’s API keys (never their secrets)',
  description: 'Operator only. Revoked and expired keys are listed too.',
  security: bearerSecurity,
  middleware: [operatorOnly] as const,
  request: { params: TenantParams, query: z.object(pageQuery) },
  responses: { 200: jsonResponse(ApiKeyPageSchema, 'A page of API keys'), ...problems(400, 401, 403, 404, 503) },
});

export function registerListApiKeys(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const { limit, cursor } = c.req.valid('query');
    const after = decodeCursor(cursor);
    const rows = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.tenantId, tenant_id), afterCursor(apiKeys.createdAt, apiKeys.id, after)))
        .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
        .limit(limit + 1),
    );
    return c.json(toPage(rows, limit, presentApiKey), 200);
  });
}
