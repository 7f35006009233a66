import { createRoute, z } from '@hono/zod-openapi';
import type { App } from '../../lib/env.ts';
import { twilioProblems } from '../webhooks/twilio/schema.ts';

import { handToCallSession } from './session.ts';

const route = createRoute({
  method: 'get',
  path: '/internal/media/twilio/{tenant_id}/{call_record_id}',
  tags: ['Call sessions'],
  summary: 'A Twilio call’s audio (Media Streams): the WebSocket into its AI session',
  description: [
    'The `<Connect><Stream>` URL the voice webhook answered with. The call’s route is in the path, because Twilio drops a query string from a stream URL.',
    'The upgrade must carry `X-Twilio-Signature` by TWILIO_AUTH_TOKEN over exactly this wss:// URL (PUBLIC_BASE_URL’s host): a signature cannot be moved to another call.',
    'The socket goes to the call’s CallSession, which answers 101 only once the voice model is ready (within 3 s); then it speaks Twilio’s Media Streams messages.',
    'The session starts when Twilio’s `start` message names this call: its `callSid` must be the call’s `external_call_id`, its `accountSid` TWILIO_ACCOUNT_SID and its `call_record_id` parameter this call; otherwise the socket is closed (1008) and nothing is recorded.',
    'A call that is unknown, another tenant’s, already ended, or whose tenant is inactive is refused before anything opens.',
  ].join(' '),
  security: [{ twilioSignature: [] }],
  request: {
    params: z.object({
      tenant_id: z.uuid().openapi({ param: { name: 'tenant_id', in: 'path' }, description: 'The tenant of the routed call' }),
      call_record_id: z.uuid().openapi({ param: { name: 'call_record_id', in: 'path' }, description: 'The call record id' }),
    }),
  },
  responses: {
    101: { description: 'Switching protocols: the session is live' },
    ...twilioProblems(401, 403, 404, 409, 426, 503),
  },
});

export function registerTwilioMedia(app: App) {
  app.openapi(route, async (c) => {
    const { tenant_id: tenantId, call_record_id: callId } = c.req.valid('param');
    return handToCallSession(c, { tenantId, callId, carrier: 'twilio', account: c.var.twilio.accountSid });
  });
}
