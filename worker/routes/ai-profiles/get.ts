import { createRoute } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { aiProfiles } from '../../db/schema.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { notFound, problems } from '../../lib/problem.ts';
import { AiProfileParams, bearerSecurity, jsonResponse } from '../openapi.ts';
import { AiProfileSchema, presentAiProfile } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}',
  tags: ['AI profiles'],
  summary: 'Get an AI profile',
  security: bearerSecurity,
  request: { params: AiProfileParams },
  responses: { 200: jsonResponse(AiProfileSchema, 'The AI profile'), ...problems(401, 404, 503) },
});

export function registerGetAiProfile(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id, ai_profile_id } = c.req.valid('param');
    const [row] = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select()
        .from(aiProfiles)
        .where(and(eq(aiProfiles.tenantId, tenant_id), eq(aiProfiles.id, ai_profile_id))),
    );
    if (!row) throw notFound('ai profile');
    return c.json(presentAiProfile(row), 200);
  });
}
