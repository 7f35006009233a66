import { createRoute, z } from '@hono/zod-openapi';
import { type RoutesPage as Page, ROUTES_PAGE_DEFAULT, ROUTES_PAGE_MAX, RoutesPage } from '../../../contract/ingest.ts';
import { listRouteChanges } from '../../db/cross-tenant.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';
import { jsonResponse } from '../openapi.ts';

const route = createRoute({
  method: 'get',
  path: '/internal/telephony/routes',
  tags: ['Telephony ingest'],
  summary: 'The routes of the numbers that reach Asterisk, changed after a routing version',
  description: `What the bridge beside Asterisk syncs its routing table from, so that it can answer a call without asking. Signed like /inbound (Standard Webhooks over the exact body, which is empty). The database stamps every change that affects a route (a number attached, activated, deactivated or removed; a tenant's status; a tenant's default AI profile switched, renamed or re-roled) with a routing version, in commit order; this answers the routes changed after \`after\`, oldest change first, up to \`limit\` (default ${ROUTES_PAGE_DEFAULT}, at most ${ROUTES_PAGE_MAX}), and \`next_after\` while more wait. Only \`generic\` numbers; a number that no longer routes here comes back as \`removed\`. A \`version\` below \`after\` means the database went back (a restore): start again from 0. \`default_country\` is the Worker's DEFAULT_COUNTRY, with which national-format DIDs are read.`,
  security: [{ webhookSignature: [] }],
  request: {
    query: z.object({
      after: z.coerce
        .number()
        .int()
        .min(0)
        .max(Number.MAX_SAFE_INTEGER)
        .default(0)
        .openapi({ description: 'A routing version; 0: every route' }),
      limit: z.coerce.number().int().min(1).max(ROUTES_PAGE_MAX).default(ROUTES_PAGE_DEFAULT),
    }),
  },
  responses: { 200: jsonResponse(RoutesPage, 'The routes changed after `after`'), ...problems(400, 401, 403, 503) },
});

export function registerRoutes(app: App) {
  app.openapi(route, async (c) => {
    const { after, limit } = c.req.valid('query');
    const { head, changes } = await listRouteChanges(c.var.db(), after, limit);
    const routes: Page['routes'] = changes.map(({ version, phoneNumberId, route }) =>
      route
        ? {
            removed: false,
            phone_number_id: phoneNumberId,
            version,
            did: route.did,
            tenant_id: route.tenantId,
            number_active: route.numberActive,
            tenant_active: route.tenantActive,
            ai_profile: route.aiProfile,
          }
        : { removed: true, phone_number_id: phoneNumberId, version },
    );
    const last = routes.at(-1);
    const page: Page = {
      default_country: c.var.settings.DEFAULT_COUNTRY,
      version: head,
      routes,
      next_after: routes.length === limit && last ? last.version : null,
    };
    c.set('logEntry', { msg: '[ROUTES] page', fields: { after, routes: routes.length, version: head } });
    return c.json(page, 200);
  });
}
