import { createRoute, z } from '@hono/zod-openapi';
import { PbxCallId } from '../../../contract/ingest.ts';
import type { App } from '../../lib/env.ts';
import { problems } from '../../lib/problem.ts';

import { handToCallSession } from './session.ts';

const route = createRoute({
  method: 'get',
  path: '/internal/media/asterisk/{call_record_id}',
  tags: ['Call sessions'],
  summary: 'A call’s audio from Asterisk, through the bridge: the WebSocket into its AI session',
  description: [
    'A WebSocket upgrade, opened by the bridge for a call it routed, signed like the ingest (Standard Webhooks) over `GET <path>?<query>` since an upgrade has no body.',
    'The query is the route the bridge answered Asterisk with (tenant, phone number, AI profile, the PBX’s call id): the session trusts it, so it starts also while the call’s record is still on its way from the bridge’s spool, and writes its records once the record has arrived.',
    'The socket goes to the call’s CallSession, which answers 101 only once the voice model is ready (within 3 s); then the socket speaks Asterisk’s chan_websocket protocol (binary μ-law frames, JSON control messages).',
    'A call whose record exists and is another tenant’s (404), already ended (409) or disagrees with the route (409 `route_mismatch`), a route naming a profile the tenant does not have (409 `no_ai_profile`), or an inactive tenant (403) is refused before anything opens.',
    'A request with `tenant_id` alone (a bridge from before the route was carried) needs the call’s record: none → 404.',
  ].join(' '),
  security: [{ webhookSignature: [] }],
  request: {
    params: z.object({
      call_record_id: z
        .uuid()
        .openapi({ param: { name: 'call_record_id', in: 'path' }, description: 'The call record id the routing answer gave' }),
    }),
    query: z
      .object({
        tenant_id: z.uuid().openapi({ description: 'The tenant the routing answer named' }),
        phone_number_id: z.uuid().optional().openapi({ description: 'The phone number the routing answer named' }),
        ai_profile_id: z
          .uuid()
          .optional()
          .openapi({ description: 'The AI profile the routing answer named; absent: none (the tenant’s default)' }),
        call_id: PbxCallId.optional().openapi({ description: 'The PBX’s id of the call (Asterisk’s UNIQUEID), as /inbound received it' }),
      })
      .refine((query) => (query.phone_number_id === undefined) === (query.call_id === undefined), {
        message: 'phone_number_id and call_id come together',
      })
      .refine((query) => query.ai_profile_id === undefined || query.phone_number_id !== undefined, {
        message: 'ai_profile_id comes with the rest of the route',
      }),
  },
  responses: {
    101: { description: 'Switching protocols: the session is live' },
    ...problems(400, 401, 403, 404, 409, 426, 503),
  },
});

export function registerAsteriskMedia(app: App) {
  app.openapi(route, async (c) => {
    const { call_record_id: callId } = c.req.valid('param');
    const query = c.req.valid('query');
    const route =
      query.phone_number_id !== undefined && query.call_id !== undefined
        ? { phoneNumberId: query.phone_number_id, aiProfileId: query.ai_profile_id ?? null, externalCallId: query.call_id }
        : undefined;
    return handToCallSession(c, { tenantId: query.tenant_id, callId, carrier: 'asterisk', route });
  });
}
