import { z } from '@hono/zod-openapi';
import { type phoneNumbers, providerType } from '../../db/schema.ts';
import { pageSchema } from '../../lib/pagination.ts';
import { toIso } from '../../lib/time.ts';

export const PhoneNumberSchema = z
  .object({
    id: z.uuid(),
    tenant_id: z.uuid(),
    did_number: z.string().openapi({ description: 'E.164', example: '+919876543210' }),
    provider_type: z.enum(providerType.enumValues).openapi({
      description:
        '`generic`: the Tata trunk through Asterisk and the bridge. `twilio`: a number of the configured Twilio account. `telnyx`: a number of the configured Telnyx account, assigned to VCA’s Call Control application.',
    }),
    is_active: z.boolean(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi('PhoneNumber');

export const PhoneNumberPageSchema = pageSchema(PhoneNumberSchema, 'PhoneNumberPage');

export const CreatePhoneNumberBody = z
  .strictObject({
    did_number: z.string().max(64).openapi({
      description: 'E.164 (`+919876543210`) or national format (`09876543210`, read with DEFAULT_COUNTRY). Stored as E.164.',
      example: '+919876543210',
    }),
    provider_type: z.enum(providerType.enumValues).optional().openapi({
      description:
        'Default: generic. `twilio` registers the number with the configured Twilio account, `telnyx` assigns it to VCA’s Call Control application (TELNYX_CONNECTION_ID) in the configured Telnyx account (see the operation’s description).',
    }),
    is_active: z.boolean().optional().openapi({ description: 'Default: true' }),
  })
  .openapi('CreatePhoneNumber');

export const UpdatePhoneNumberBody = z
  .strictObject({ is_active: z.boolean().optional() })
  .refine((body) => body.is_active !== undefined, { message: 'send is_active' })
  .openapi('UpdatePhoneNumber', { description: 'Only is_active can change (activate/deactivate).' });

export const PhoneNumberListQuery = z.object({
  is_active: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional()
    .openapi({ type: 'boolean', description: 'Only active (true) or inactive (false) numbers.' }),
});

export function presentPhoneNumber(row: typeof phoneNumbers.$inferSelect): z.infer<typeof PhoneNumberSchema> {
  return {
    id: row.id,
    tenant_id: row.tenantId,
    did_number: row.didNumber,
    provider_type: row.providerType,
    is_active: row.isActive,
    created_at: toIso(row.createdAt),
    updated_at: toIso(row.updatedAt),
  };
}
