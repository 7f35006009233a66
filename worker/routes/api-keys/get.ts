import { createRoute } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { apiKeys } from '../../db/schema.ts';
import { operatorOnly } from '../../lib/auth.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { notFound, problems } from '../../lib/problem.ts';
import { ApiKeyParams, bearerSecurity, jsonResponse } from '../openapi.ts';
import { ApiKeySchema, presentApiKey } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/api-keys/{api_key_id}',
  tags: ['API keys'],
  summary: 'Get an API key (never its secret)',
  security: bearerSecurity,
  middleware: [operatorOnly] as const,
  request: { params: ApiKeyParams },
  responses: { 200: jsonResponse(ApiKeySchema, 'The API key'), ...problems(401, 403, 404, 503) },
});

export function registerGetApiKey(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id, api_key_id } = c.req.valid('param');
    const [row] = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.tenantId, tenant_id), eq(apiKeys.id, api_key_id))),
    );
    if (!row) throw notFound('api key');
    return c.json(presentApiKey(row), 200);
  });
}
