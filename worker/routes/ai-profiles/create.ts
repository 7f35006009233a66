import { createRoute } from '@hono/zod-openapi';
import { aiProfiles } from '../../db/schema.ts';
import { recordAudit, redactText } from '../../lib/audit.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonBody, jsonResponse, TenantParams } from '../openapi.ts';
import { clearDefaultProfile } from './default-profile.ts';
import { AiProfileSchema, CreateAiProfileBody, presentAiProfile } from './schema.ts';

const route = createRoute({
  method: 'post',
  path: '/api/tenants/{tenant_id}/ai-profiles',
  tags: ['AI profiles'],
  summary: 'Create an AI profile',
  security: bearerSecurity,
  request: { params: TenantParams, body: jsonBody(CreateAiProfileBody) },
  responses: { 201: jsonResponse(AiProfileSchema, 'The new profile'), ...problems(400, 401, 404, 413, 415, 503) },
});

export function registerCreateAiProfile(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const row = await withTenant(c.var.db(), tenant_id, async (tx) => {
      if (body.is_default) await clearDefaultProfile(tx, tenant_id);
      const [inserted] = await tx
        .insert(aiProfiles)
        .values({
          tenantId: tenant_id,
          name: body.name,
          role: body.role,
          systemPrompt: body.system_prompt,
          isDefault: body.is_default ?? false,
          greeting: body.greeting,
          voice: body.voice,
          language: body.language,
          maxDurationSeconds: body.max_duration_seconds,
        })
        .returning();
      if (inserted) {
        await recordAudit(tx, c, {
          tenantId: tenant_id,
          action: 'ai_profile.created',
          resourceType: 'ai_profile',
          resourceId: inserted.id,
          changes: {
            name: body.name,
            role: body.role,
            system_prompt: redactText(body.system_prompt),
            is_default: inserted.isDefault,
            greeting: redactText(inserted.greeting),
            voice: inserted.voice,
            language: inserted.language,
            max_duration_seconds: inserted.maxDurationSeconds,
          },
        });
      }
      return inserted;
    });
    if (!row) throw new Error('insert returned no row');
    return c.json(presentAiProfile(row), 201, { location: `/api/tenants/${tenant_id}/ai-profiles/${row.id}` });
  });
}
