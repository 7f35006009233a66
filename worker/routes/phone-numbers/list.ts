import { createRoute } from '@hono/zod-openapi';
import { and, desc, eq } from 'drizzle-orm';
import { phoneNumbers } from '../../db/schema.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { afterCursor, decodeCursor, pageQuery, toPage } from '../../lib/pagination.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonResponse, TenantParams } from '../openapi.ts';
import { PhoneNumberListQuery, PhoneNumberPageSchema, presentPhoneNumber } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/phone-numbers',
  tags: ['Phone numbers'],
  summary: 'List a tenant’s phone numbers',
  security: bearerSecurity,
  request: { params: TenantParams, query: PhoneNumberListQuery.extend(pageQuery) },
  responses: { 200: jsonResponse(PhoneNumberPageSchema, 'A page of phone numbers'), ...problems(400, 401, 404, 503) },
});

export function registerListPhoneNumbers(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const { is_active, limit, cursor } = c.req.valid('query');
    const after = decodeCursor(cursor);
    const rows = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select()
        .from(phoneNumbers)
        .where(
          and(
            eq(phoneNumbers.tenantId, tenant_id),
            is_active === undefined ? undefined : eq(phoneNumbers.isActive, is_active),
            afterCursor(phoneNumbers.createdAt, phoneNumbers.id, after),
          ),
        )
        .orderBy(desc(phoneNumbers.createdAt), desc(phoneNumbers.id))
        .limit(limit + 1),
    );
    return c.json(toPage(rows, limit, presentPhoneNumber), 200);
  });
}
