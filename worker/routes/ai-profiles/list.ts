import { createRoute, z } from '@hono/zod-openapi';
import { and, desc, eq } from 'drizzle-orm';
import { aiProfiles } from '../../db/schema.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { afterCursor, decodeCursor, pageQuery, toPage } from '../../lib/pagination.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonResponse, TenantParams } from '../openapi.ts';
import { AiProfilePageSchema, presentAiProfile } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/ai-profiles',
  tags: ['AI profiles'],
  summary: 'List a tenant’s AI profiles',
  security: bearerSecurity,
  request: { params: TenantParams, query: z.object(pageQuery) },
  responses: { 200: jsonResponse(AiProfilePageSchema, 'A page of AI profiles'), ...problems(400, 401, 404, 503) },
});

export function registerListAiProfiles(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const { limit, cursor } = c.req.valid('query');
    const after = decodeCursor(cursor);
    const rows = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select()
        .from(aiProfiles)
        .where(and(eq(aiProfiles.tenantId, tenant_id), afterCursor(aiProfiles.createdAt, aiProfiles.id, after)))
        .orderBy(desc(aiProfiles.createdAt), desc(aiProfiles.id))
        .limit(limit + 1),
    );
    return c.json(toPage(rows, limit, presentAiProfile), 200);
  });
}
