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
const greeting = storableText(z.string().trim().min(1, 'greeting must not be empty; send null for none').max(1_000)).nullable().openapi({
  description: 'What the agent says first when a call connects. Null: it waits for the caller.',
  example: 'Hello, Acme Dental, how can I help?',
});
const voice = z
  .string()
  .regex(/^[a-z0-9_-]{1,32}$/, 'must be 1–32 lowercase letters, digits, "_" or "-"')
  .openapi({ description: 'The realtime model’s voice, as the model service names it. Default: `alloy`.', example: 'alloy' });
/** The database's CHECK allows no more; RFC 5646 (§4.4.1) asks for 35 characters, which covers the tags in real use. */
const MAX_LANGUAGE_LENGTH = 35;
const language = z
  .string()
  .trim()
  .max(MAX_LANGUAGE_LENGTH)
  .refine((tag) => canonicalLanguageTag(tag) !== undefined, 'must be a BCP 47 language tag, e.g. en, en-IN or hi-IN')
  .overwrite((tag) => canonicalLanguageTag(tag) ?? tag)
  .nullable()
  .openapi({
    description:
      'The language the agent speaks, as a BCP 47 tag; stored in canonical form (`en-in` becomes `en-IN`). Null: the model’s own choice.',
    example: 'en-IN',
  });
const maxDurationSeconds = z
  .number()
  .int()
  .min(30)
  .max(3_600)
  .openapi({ description: 'The longest a call may last with this agent; then it ends the call politely. Default: 600.', example: 600 });

/**
 * The canonical form of a BCP 47 tag, or undefined when it is not one. Its language must be an
 * ISO 639 code (2 or 3 letters): the syntax also allows 5 to 8 letters, which nothing uses.
 */
function canonicalLanguageTag(tag: string): string | undefined {
  let canonical: string | undefined;
  try {
    canonical = Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
  // Canonical forms can be longer than what was sent (`sh` is `sr-Latn`): the limit applies to what is stored.
  return canonical && /^[a-z]{2,3}(-|$)/.test(canonical) && canonical.length <= MAX_LANGUAGE_LENGTH ? canonical : undefined;
}

export const AiProfileSchema = z
  .object({
    id: z.uuid(),
    tenant_id: z.uuid(),
    name: z.string(),
    role,
    system_prompt: z.string(),
    is_default: z.boolean(),
    greeting: z.string().nullable(),
    voice: z.string(),
    language: z.string().nullable(),
    max_duration_seconds: z.number().int(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi('AiProfile');

export const AiProfilePageSchema = pageSchema(AiProfileSchema, 'AiProfilePage');

export const CreateAiProfileBody = z
  .strictObject({
    name,
    role,
    system_prompt: systemPrompt,
    is_default: isDefault.optional(),
    greeting: greeting.optional(),
    voice: voice.optional(),
    language: language.optional(),
    max_duration_seconds: maxDurationSeconds.optional(),
  })
  .openapi('CreateAiProfile');

export const UpdateAiProfileBody = z
  .strictObject({
    name: name.optional(),
    role: role.optional(),
    system_prompt: systemPrompt.optional(),
    is_default: isDefault.optional(),
    greeting: greeting.optional(),
    voice: voice.optional(),
    language: language.optional(),
    max_duration_seconds: maxDurationSeconds.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, {
    message: 'send at least one of: name, role, system_prompt, is_default, greeting, voice, language, max_duration_seconds',
  })
  .openapi('UpdateAiProfile');

export function presentAiProfile(row: typeof aiProfiles.$inferSelect): z.infer<typeof AiProfileSchema> {
  return {
    id: row.id,
    tenant_id: row.tenantId,
    name: row.name,
    role: row.role,
    system_prompt: row.systemPrompt,
    is_default: row.isDefault,
    greeting: row.greeting,
    voice: row.voice,
    language: row.language,
    max_duration_seconds: row.maxDurationSeconds,
    created_at: toIso(row.createdAt),
    updated_at: toIso(row.updatedAt),
  };
}
