import { createRoute } from '@hono/zod-openapi';
import { normalizeDid } from '../../../contract/phone.ts';
import { phoneNumbers } from '../../db/schema.ts';
import { recordAudit } from '../../lib/audit.ts';
import { operatorOnly } from '../../lib/auth.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { ApiError, problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonBody, jsonResponse, TenantParams } from '../openapi.ts';
import { provisioningAdapter, provisionNumber } from './provisioning.ts';
import { CreatePhoneNumberBody, PhoneNumberSchema, presentPhoneNumber } from './schema.ts';

const route = createRoute({
  method: 'post',
  path: '/api/tenants/{tenant_id}/phone-numbers',
  tags: ['Phone numbers'],
  summary: 'Attach a phone number (DID) to a tenant',
  description:
    'The DID is normalised to E.164 and must be unique across all tenants: a duplicate, in any format, is 409. A `twilio` number must be a number of the configured Twilio account: attaching it active points its voice URL and status callback at VCA through Twilio’s REST API (attaching it inactive takes them off), before the change is committed — if Twilio refuses or cannot be reached, the answer is 502 `provider_error` and nothing is created. Twilio not configured → 400 `twilio_not_configured`. A `telnyx` number must be a number of the configured Telnyx account: attaching it active assigns it to VCA’s Call Control application (`TELNYX_CONNECTION_ID`) through Telnyx’s number API (attaching it inactive takes it off that application), with the same 502 `provider_error` when Telnyx refuses or cannot be reached; Telnyx not configured → 400 `telnyx_not_configured`. `generic` numbers are routed by hand on the trunk.',
  security: bearerSecurity,
  // Numbers are provisioned on the trunk by the operator; a tenant claiming one would take its calls.
  middleware: [operatorOnly] as const,
  request: { params: TenantParams, body: jsonBody(CreatePhoneNumberBody) },
  responses: {
    201: jsonResponse(PhoneNumberSchema, 'The attached number'),
    ...problems(400, 401, 403, 404, 409, 413, 415, 502, 503),
  },
});

export function registerCreatePhoneNumber(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const body = c.req.valid('json');
    const did = normalizeDid(body.did_number, c.var.settings.DEFAULT_COUNTRY);
    if (!did) {
      throw new ApiError(400, 'invalid_did', 'Invalid request', 'did_number is not a valid phone number.', {
        errors: [
          { path: 'did_number', message: `not a valid phone number (national numbers are read as ${c.var.settings.DEFAULT_COUNTRY})` },
        ],
      });
    }
    const carrier = provisioningAdapter(c, body.provider_type ?? 'generic');
    const row = await withTenant(c.var.db(), tenant_id, async (tx) => {
      // The unique index on did_number decides races; ON CONFLICT keeps the loser's answer a clean 409.
      const [inserted] = await tx
        .insert(phoneNumbers)
        .values({ tenantId: tenant_id, didNumber: did, providerType: body.provider_type, isActive: body.is_active })
        .onConflictDoNothing({ target: phoneNumbers.didNumber })
        .returning();
      if (inserted) {
        // The carrier before the audit and the commit: its refusal rolls the insert back.
        if (carrier) await provisionNumber(c, carrier, inserted);
        await recordAudit(tx, c, {
          tenantId: tenant_id,
          action: 'phone_number.created',
          resourceType: 'phone_number',
          resourceId: inserted.id,
          changes: { did_number: inserted.didNumber, provider_type: inserted.providerType, is_active: inserted.isActive },
        });
      }
      return inserted;
    });
    if (!row) {
      // Never say which tenant holds it.
      throw new ApiError(409, 'did_already_registered', 'Conflict', `The number ${did} is already registered.`);
    }
    return c.json(presentPhoneNumber(row), 201, { location: `/api/tenants/${tenant_id}/phone-numbers/${row.id}` });
  });
}
