import { createRoute } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { aiProfiles } from '../../db/schema.ts';
import { recordAudit, redactText } from '../../lib/audit.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { notFound, problems } from '../../lib/problem.ts';
import { AiProfileParams, bearerSecurity, jsonBody, jsonResponse } from '../openapi.ts';
import { clearDefaultProfile } from './default-profile.ts';
import { AiProfileSchema, presentAiProfile, UpdateAiProfileBody } from './schema.ts';

const route = createRoute({
  method: 'patch',
  path: '/api/tenants/{tenant_id}/ai-profiles/{ai_profile_id}',
  tags: ['AI profiles'],
  summary: 'Update an AI profile',
  description: 'Setting `is_default: true` makes this the tenant’s only default profile, atomically.',
  security: bearerSecurity,
  request: { params: AiProfileParams, body: jsonBody(UpdateAiProfileBody) },
  responses: { 200: jsonResponse(AiProfileSchema, 'The updated profile'), ...problems(400, 401, 404, 413, 415, 503) },
});

export function registerUpdateAiProfile(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id, ai_profile_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const row = await withTenant(c.var.db(), tenant_id, async (tx) => {
      if (body.is_default) await clearDefaultProfile(tx, tenant_id, ai_profile_id);
      const [updated] = await tx
        .update(aiProfiles)
        .set({
          name: body.name,
          role: body.role,
          systemPrompt: body.system_prompt,
          isDefault: body.is_default,
          greeting: body.greeting,
          voice: body.voice,
          language: body.language,
          maxDurationSeconds: body.max_duration_seconds,
          updatedAt: sql`now()`,
        })
        .where(and(eq(aiProfiles.tenantId, tenant_id), eq(aiProfiles.id, ai_profile_id)))
        .returning();
      // Thrown inside the transaction, so a cleared default is rolled back too.
      if (!updated) throw notFound('ai profile');
      await recordAudit(tx, c, {
        tenantId: tenant_id,
        action: 'ai_profile.updated',
        resourceType: 'ai_profile',
        resourceId: updated.id,
        changes: { ...body, system_prompt: redactText(body.system_prompt), greeting: redactText(body.greeting) },
      });
      return updated;
    });
    return c.json(presentAiProfile(row), 200);
  });
}
