import { createRoute } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { phoneNumbers } from '../../db/schema.ts';
import { recordAudit } from '../../lib/audit.ts';
import { operatorOnly } from '../../lib/auth.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { notFound, problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonBody, jsonResponse, PhoneNumberParams } from '../openapi.ts';
import { provisioningAdapter, provisionNumber } from './provisioning.ts';
import { PhoneNumberSchema, presentPhoneNumber, UpdatePhoneNumberBody } from './schema.ts';

const route = createRoute({
  method: 'patch',
  path: '/api/tenants/{tenant_id}/phone-numbers/{phone_number_id}',
  tags: ['Phone numbers'],
  summary: 'Activate or deactivate a phone number',
  description:
    'Only `is_active` can change. An inactive number’s calls are rejected. For a `twilio` number, activating registers it with Twilio (voice URL and status callback point at VCA) and deactivating takes that off; for a `telnyx` number, activating assigns it to VCA’s Call Control application and deactivating takes it off (only if it is still assigned to VCA’s). Both happen before the change is committed: if the carrier refuses or cannot be reached, the answer is 502 `provider_error` and nothing changes.',
  security: bearerSecurity,
  // Numbers are provisioned on the trunk by the operator; a tenant claiming one would take its calls.
  middleware: [operatorOnly] as const,
  request: { params: PhoneNumberParams, body: jsonBody(UpdatePhoneNumberBody) },
  responses: {
    200: jsonResponse(PhoneNumberSchema, 'The updated phone number'),
    ...problems(400, 401, 403, 404, 413, 415, 502, 503),
  },
});

export function registerUpdatePhoneNumber(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id, phone_number_id } = c.req.valid('param');
    const { is_active } = c.req.valid('json');
    const row = await withTenant(c.var.db(), tenant_id, async (tx) => {
      const [updated] = await tx
        .update(phoneNumbers)
        .set({ isActive: is_active, updatedAt: sql`now()` })
        .where(and(eq(phoneNumbers.tenantId, tenant_id), eq(phoneNumbers.id, phone_number_id)))
        .returning();
      if (!updated) throw notFound('phone number');
      // The carrier before the audit and the commit: its refusal rolls the update back.
      const carrier = provisioningAdapter(c, updated.providerType);
      if (carrier) await provisionNumber(c, carrier, updated);
      await recordAudit(tx, c, {
        tenantId: tenant_id,
        action: 'phone_number.updated',
        resourceType: 'phone_number',
        resourceId: updated.id,
        changes: { is_active },
      });
      return updated;
    });
    return c.json(presentPhoneNumber(row), 200);
  });
}
