import { z } from '@hono/zod-openapi';
import { storableText } from '../../../contract/text.ts';
import type { apiKeys } from '../../db/schema.ts';
import { API_KEY_PREFIX } from '../../lib/auth.ts';
import { pageSchema } from '../../lib/pagination.ts';
import { toIso } from '../../lib/time.ts';

export const ApiKeySchema = z
  .object({
    id: z.uuid(),
    tenant_id: z.uuid(),
    name: z.string(),
    prefix: z.string().openapi({
      description: 'The start of the key, to recognise it; the rest is never shown again.',
      example: `${API_KEY_PREFIX}Xk3v9Qp1Lm2R`,
    }),
    created_at: z.iso.datetime(),
    expires_at: z.iso.datetime().nullable(),
    revoked_at: z.iso.datetime().nullable(),
    last_used_at: z.iso.datetime().nullable().openapi({ description: 'Updated at most once a minute.' }),
  })
  .openapi('ApiKey');

export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().openapi({ description: 'The secret. Shown once, here; store it now.', example: `${API_KEY_PREFIX}Xk3v9Qp1Lm2R…` }),
}).openapi('CreatedApiKey');

export const ApiKeyPageSchema = pageSchema(ApiKeySchema, 'ApiKeyPage');

export const CreateApiKeyBody = z
  .strictObject({
    name: storableText(z.string().trim().min(1).max(200)).openapi({ example: 'CRM integration' }),
    expires_at: z.iso
      .datetime({ offset: true })
      .refine((value) => Date.parse(value) > Date.now(), 'must be in the future')
      .optional()
      .openapi({ description: 'ISO-8601; no expiry when absent.' }),
  })
  .openapi('CreateApiKey');

export function presentApiKey(row: typeof apiKeys.$inferSelect): z.infer<typeof ApiKeySchema> {
  return {
    id: row.id,
    tenant_id: row.tenantId,
    name: row.name,
    prefix: `${API_KEY_PREFIX}${row.prefix}`,
    created_at: toIso(row.createdAt),
    expires_at: toIso(row.expiresAt),
    revoked_at: toIso(row.revokedAt),
    last_used_at: toIso(row.lastUsedAt),
  };
}
