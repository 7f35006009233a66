import { createRoute, z } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { App } from '../lib/env.ts';
import { jsonResponse } from './openapi.ts';

export const SERVICE_NAME = 'VCA';

const RootSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    environment: z.string(),
    docs: z.string(),
    openapi: z.string(),
  })
  .openapi('ServiceInfo');

const route = createRoute({
  method: 'get',
  path: '/',
  tags: ['Service'],
  summary: 'Service name, version, environment and links',
  responses: { 200: jsonResponse(RootSchema, 'About this service') },
});

export function registerRoot(app: App, version: string) {
  app.openapi(route, (c) => {
    const config = c.var.config;
    const environment = config.ok ? config.settings.APP_ENV : (config.environment ?? 'unknown');
    return c.json({ name: SERVICE_NAME, version, environment, docs: '/docs', openapi: '/openapi.json' }, 200);
  });

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'VCA API',
      version,
      description:
        'Multi-tenant voice AI agent backend. Operators manage tenants, their phone numbers (DIDs) and AI profiles, and read their calls. Errors are RFC 9457 problem+json with a stable `code`.',
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description:
      'An operator token (ADMIN_API_TOKENS) or a tenant API key (`vca_…`, issued by an operator). Tenant keys reach only their own tenant; operator-only routes answer them 403.',
  });
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'VCA API' }));
}
