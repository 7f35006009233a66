import { createRoute } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { phoneNumbers } from '../../db/schema.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { notFound, problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonResponse, PhoneNumberParams } from '../openapi.ts';
import { PhoneNumberSchema, presentPhoneNumber } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/phone-numbers/{phone_number_id}',
  tags: ['Phone numbers'],
  summary: 'Get a phone number',
  security: bearerSecurity,
  request: { params: PhoneNumberParams },
  responses: { 200: jsonResponse(PhoneNumberSchema, 'The phone number'), ...problems(401, 404, 503) },
});

export function registerGetPhoneNumber(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id, phone_number_id } = c.req.valid('param');
    const [row] = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select()
        .from(phoneNumbers)
        .where(and(eq(phoneNumbers.tenantId, tenant_id), eq(phoneNumbers.id, phone_number_id))),
    );
    if (!row) throw notFound('phone number');
    return c.json(presentPhoneNumber(row), 200);
  });
}
