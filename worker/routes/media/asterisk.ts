import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';

import { handToCallSession } from './session.ts';

const route = createRoute({
  method: 'get',
  path: '/internal/media/asterisk/{call_record_id}',
  tags: ['Call sessions'],
  summary: 'A call’s audio from Asterisk, through the bridge: the WebSocket into its AI session',
  description:
    'A WebSocket upgrade, opened by the bridge for a call it routed, signed like the ingest (Standard Webhooks) over `GET <path>?<query>` since an upgrade has no body. The socket goes to the call’s CallSession, which answers 101 only once the voice model is ready (within 3 s); then the socket speaks Asterisk’s chan_websocket protocol (binary μ-law frames, JSON control messages). A call that is unknown, another tenant’s, already ended, or whose tenant is inactive is refused before anything opens.',
  security: [{ webhookSignature: [] }],
  request: {
    params: z.object({
      call_record_id: z
        .uuid()
        .openapi({ param: { name: 'call_record_id', in: 'path' }, description: 'The call record id the routing answer gave' }),
    }),
    query: z.object({ tenant_id: z.uuid().openapi({ description: 'The tenant the routing answer named' }) }),
  },
  responses: {
    101: { description: 'Switching protocols: the session is live' },
    ...problems(401, 403, 404, 409, 426, 503),
  },
});

export function registerAsteriskMedia(app: App) {
  app.openapi(route, async (c) => {
    const { call_record_id: callId } = c.req.valid('param');
    const { tenant_id: tenantId } = c.req.valid('query');
    return handToCallSession(c, { tenantId, callId, carrier: 'asterisk' });
  });
}
