import { z } from '@hono/zod-openapi';
import { storableText } from '../../../contract/text.ts';
import { aiProfileRole, type aiProfiles } from '../../db/schema.ts';
import { pageSchema } from '../../lib/pagination.ts';
import { toIso } from '../../lib/time.ts';

const name = storableText(z.string().trim().min(1).max(200)).openapi({ example: 'Front desk' });
const role = z.enum(aiProfileRole.enumValues);
const systemPrompt = storableText(z.string().trim().min(1, 'system_prompt must not be empty').max(20_000)).openapi({
  example: 'You are the friendly receptionist of Acme Dental. Book, move and cancel appointments.',
});
const isDefault = z.boolean().openapi({
  description: 'The profile that answers the tenant’s calls. Setting it unsets the previous default in the same transaction.',
});

export const AiProfileSchema = z
  .object({
    id: z.uuid(),
    tenant_id: z.uuid(),
    name: z.string(),
    role,
    system_prompt: z.string(),
    is_default: z.boolean(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi('AiProfile');

export const AiProfilePageSchema = pageSchema(AiProfileSchema, 'AiProfilePage');

export const CreateAiProfileBody = z
  .strictObject({ name, role, system_prompt: systemPrompt, is_default: isDefault.optional() })
  .openapi('CreateAiProfile');

export const UpdateAiProfileBody = z
  .strictObject({ name: name.optional(), role: role.optional(), system_prompt: systemPrompt.optional(), is_default: isDefault.optional() })
  .refine((body) => Object.keys(body).length > 0, { message: 'send at least one of: name, role, system_prompt, is_default' })
  .openapi('UpdateAiProfile');

export function presentAiProfile(row: typeof aiProfiles.$inferSelect): z.infer<typeof AiProfileSchema> {
  return {
    id: row.id,
    tenant_id: row.tenantId,
    name: row.name,
    role: row.role,
    system_prompt: row.systemPrompt,
    is_default: row.isDefault,
    created_at: toIso(row.createdAt),
    updated_at: toIso(row.updatedAt),
  };
}
