import { createRoute } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { operatorOnly } from '../../lib/auth.ts';
import type { Tenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { decodeCursor, pageQuery, toPage } from '../../lib/pagination.ts';
import { problems } from '../../lib/problem.ts';
import { bearerSecurity, jsonResponse } from '../openapi.ts';
import { presentTenant, TenantListQuery, TenantPageSchema } from './schema.ts';

const route = createRoute({
  method: 'get',
  path: '/api/tenants',
  tags: ['Tenants'],
  summary: 'List tenants',
  description: 'All tenants, newest first, including suspended and deleted ones. Operator only.',
  security: bearerSecurity,
  middleware: [operatorOnly] as const,
  request: { query: TenantListQuery.extend(pageQuery) },
  responses: { 200: jsonResponse(TenantPageSchema, 'A page of tenants'), ...problems(400, 401, 503) },
});

type TenantRow = {
  id: string;
  name: string;
  status: Tenant['status'];
  plan: Tenant['plan'];
  created_at: string;
  updated_at: string;
};

export function registerListTenants(app: App) {
  app.openapi(route, async (c) => {
    const { status, limit, cursor } = c.req.valid('query');
    const after = decodeCursor(cursor);
    // The one cross-tenant read of the admin API, the operator's view: a SECURITY DEFINER
    // function (drizzle/0002), since row-level security hides every other tenant.
    const result = await c.var.db().execute<TenantRow>(sql`
      select * from vca_list_tenants(${status ?? null}, ${after?.createdAt ?? null}::timestamptz, ${after?.id ?? null}::uuid, ${limit + 1})
    `);
    const rows = result.rows.map((row) => ({
      id: row.id,
      name: row.name,
      status: row.status,
      plan: row.plan,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
    return c.json(toPage(rows, limit, presentTenant), 200);
  });
}
