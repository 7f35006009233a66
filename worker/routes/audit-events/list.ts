import { createRoute, z } from '@hono/zod-openapi';
import { and, desc, eq } from 'drizzle-orm';
import { auditEvents } from '../../db/schema.ts';
import { withTenant } from '../../lib/db.ts';
import type { App } from '../../lib/env.ts';
import { afterCursor, decodeCursor, pageQuery, pageSchema, toPage } from '../../lib/pagination.ts';
import { problems } from '../../lib/problem.ts';
import { toIso } from '../../lib/time.ts';
import { bearerSecurity, jsonResponse, TenantParams } from '../openapi.ts';

const AuditEventSchema = z
  .object({
    id: z.uuid(),
    tenant_id: z.uuid(),
    actor_type: z.enum(['operator', 'api_key']),
    actor_id: z.string().openapi({
      description:
        'operator:<token fingerprint> or the API key id; a tenant key reading its log sees operators as just "operator", without their address',
    }),
    action: z.string().openapi({ example: 'phone_number.updated' }),
    resource_type: z.string(),
    resource_id: z.uuid(),
    changes: z.record(z.string(), z.unknown()),
    request_id: z.string().nullable(),
    source_ip: z.string().nullable(),
    created_at: z.iso.datetime(),
  })
  .openapi('AuditEvent');

const route = createRoute({
  method: 'get',
  path: '/api/tenants/{tenant_id}/audit-events',
  tags: ['Audit'],
  summary: 'The tenant’s audit log',
  description: 'Every change made through the API, newest first: who (operator fingerprint or API key), what, when, from where.',
  security: bearerSecurity,
  request: { params: TenantParams, query: z.object(pageQuery) },
  responses: {
    200: jsonResponse(pageSchema(AuditEventSchema, 'AuditEventPage'), 'A page of audit events'),
    ...problems(400, 401, 404, 503),
  },
});

export function registerListAuditEvents(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id } = c.req.valid('param');
    const { limit, cursor } = c.req.valid('query');
    const after = decodeCursor(cursor);
    // A tenant sees that an operator acted, not which one nor from where.
    const redactOperators = c.var.actor.type === 'api_key';
    const rows = await withTenant(c.var.db(), tenant_id, (tx) =>
      tx
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.tenantId, tenant_id), afterCursor(auditEvents.createdAt, auditEvents.id, after)))
        .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
        .limit(limit + 1),
    );
    return c.json(
      toPage(rows, limit, (row) => ({
        id: row.id,
        tenant_id: row.tenantId,
        actor_type: row.actorType,
        actor_id: redactOperators && row.actorType === 'operator' ? 'operator' : row.actorId,
        action: row.action,
        resource_type: row.resourceType,
        resource_id: row.resourceId,
        changes: row.changes as Record<string, unknown>,
        request_id: row.requestId,
        source_ip: redactOperators && row.actorType === 'operator' ? null : row.sourceIp,
        created_at: toIso(row.createdAt),
      })),
      200,
    );
  });
}
