import { z } from '@hono/zod-openapi';
import { storableText } from '../../../contract/text.ts';
import { tenantPlan, tenantStatus } from '../../db/schema.ts';
import type { Tenant } from '../../lib/db.ts';
import { pageSchema } from '../../lib/pagination.ts';
import { toIso } from '../../lib/time.ts';

const status = z.enum(tenantStatus.enumValues).openapi({ description: 'Suspended and deleted tenants receive no calls.' });
const plan = z.enum(tenantPlan.enumValues);

export const TenantSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    status,
    plan,
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi('Tenant');

export const TenantPageSchema = pageSchema(TenantSchema, 'TenantPage');

export const CreateTenantBody = z
  .strictObject({
    name: storableText(z.string().trim().min(1).max(200)).openapi({ example: 'Acme Dental' }),
    plan: plan.optional().openapi({ description: 'Default: starter' }),
    status: status.optional().openapi({ description: 'Default: active' }),
  })
  .openapi('CreateTenant');

export const UpdateTenantBody = z
  .strictObject({ status: status.optional(), plan: plan.optional() })
  .refine((body) => Object.keys(body).length > 0, { message: 'send at least one of: status, plan' })
  .openapi('UpdateTenant', { description: 'Only status and plan can change.' });

export const TenantListQuery = z.object({ status: status.optional() });

export function presentTenant(
  row: Pick<Tenant, 'id' | 'name' | 'status' | 'plan' | 'createdAt' | 'updatedAt'>,
): z.infer<typeof TenantSchema> {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    plan: row.plan,
    created_at: toIso(row.createdAt),
    updated_at: toIso(row.updatedAt),
  };
}
