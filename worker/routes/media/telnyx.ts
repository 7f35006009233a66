// Telnyx's media stream of a routed call: the WebSocket Telnyx opens to the stream_url VCA gave in
// actions/answer. Telnyx does not sign it, so the URL is the credential: its last segment is the
// call's token (worker/telephony/telnyx-media.ts), an HMAC over the tenant, the call record and
// Telnyx's call_control_id in the path by a key only VCA holds. The token is checked before
// anything else is read, every failure is the same 401, and neither it nor the call_control_id
// reaches a log line (the request log records the path without them).
import { createRoute, z } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import type { App, AppEnv } from '../../lib/env.ts';
import { ApiError, problems } from '../../lib/problem.ts';
import { verifyTelnyxMediaPath } from '../../telephony/telnyx-media.ts';
import { handToCallSession } from './session.ts';

const PREFIX = '/internal/media/telnyx/';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The media path as the log may show it: ids kept when they are ids, the call_control_id and the token (and anything else) never. */
export function telnyxMediaLogPath(path: string): string {
  const [tenantId = '', callId = ''] = path.slice(PREFIX.length).split('/');
  const id = (value: string) => (UUID.test(value) ? value : '…');
  return `${PREFIX}${id(tenantId)}/${id(callId)}/[call_control_id]/[token]`;
}

/** First on the Telnyx media routes: whatever happens next, the request's log line carries no token. */
export const hideTelnyxMediaToken = createMiddleware<AppEnv>(async (c, next) => {
  c.set('logPath', telnyxMediaLogPath(c.req.path));
  await next();
});

/**
 * The path's token must be the one VCA made for its tenant, call record and call_control_id
 * (the path as sent, each segment percent-decoded once); otherwise 401, nothing opened.
 */
export const requireTelnyxMediaToken = createMiddleware<AppEnv>(async (c, next) => {
  const route = await verifyTelnyxMediaPath(c.var.telnyx.apiKey, new URL(c.req.url).pathname);
  if (!route) {
    const [tenantId = '', callId = ''] = c.req.path.slice(PREFIX.length).split('/');
    c.var.log.warn('[CALL SESSION] rejected: invalid Telnyx media token', {
      tenant_id: UUID.test(tenantId) ? tenantId : undefined,
      call_record_id: UUID.test(callId) ? callId : undefined,
    });
    throw new ApiError(401, 'invalid_token', 'Unauthorized', 'This URL does not carry the media token of a call.');
  }
  c.set('telnyxMedia', route);
  await next();
});

const route = createRoute({
  method: 'get',
  path: '/internal/media/telnyx/{tenant_id}/{call_record_id}/{call_control_id}/{token}',
  tags: ['Call sessions'],
  summary: 'A Telnyx call’s audio (media streaming): the WebSocket into its AI session',
  description: [
    'The `stream_url` of the `actions/answer` command VCA sent for a routed call (with `stream_track: inbound_track`, `stream_bidirectional_mode: rtp`, `stream_bidirectional_codec: PCMU`).',
    'Telnyx does not sign its media WebSocket: the last path segment is the call’s token, an HMAC-SHA256 over the tenant, the call record id and Telnyx’s `call_control_id` (the segment before it, URL-encoded) by a key derived from TELNYX_API_KEY, so a URL opens only its own call and names the call it may hang up. A missing, altered or another call’s token, or an altered `call_control_id`, is 401 and nothing is opened or recorded.',
    'The socket goes to the call’s CallSession, which answers 101 only once the voice model is ready (within 3 s); then it speaks Telnyx’s media streaming messages.',
    'The session starts when Telnyx’s `start` message names this call: its `call_session_id` must be the call’s `external_call_id`, its `client_state` (base64) this call record id and its `call_control_id`, if it has one, the path’s; otherwise the socket is closed (1008) and nothing is recorded. Audio that is not 8 kHz μ-law (`media_format`) ends the call (1003).',
    'Closing the socket does not end a Telnyx call, so when the session ends the call (the agent’s `end_call`, the time limit, a model failure, no `start` within 5 s, a `start` that names another call) it sends `actions/hangup` to the path’s `call_control_id`, unless Telnyx said the call ended (`stop`).',
    'A call that is unknown, another tenant’s, already ended, or whose tenant is inactive is refused before anything opens.',
  ].join(' '),
  security: [],
  request: {
    params: z.object({
      tenant_id: z.uuid().openapi({ param: { name: 'tenant_id', in: 'path' }, description: 'The tenant of the routed call' }),
      call_record_id: z.uuid().openapi({ param: { name: 'call_record_id', in: 'path' }, description: 'The call record id' }),
      call_control_id: z.string().openapi({
        param: { name: 'call_control_id', in: 'path' },
        description:
          'Telnyx’s call_control_id of the call (URL-encoded), as VCA wrote it into stream_url; signed by the token. Never logged.',
        example: 'v3%3AMdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg',
      }),
      token: z.string().openapi({
        param: { name: 'token', in: 'path' },
        description: 'The call’s media token (43 characters, base64url), as VCA wrote it into stream_url. Never logged.',
      }),
    }),
  },
  responses: {
    101: { description: 'Switching protocols: the session is live' },
    ...problems(401, 403, 404, 409, 426, 503),
  },
});

export function registerTelnyxMedia(app: App) {
  app.openapi(route, async (c) => {
    // The route the token vouched for (its call_control_id as signed, not as the router decoded it).
    const { tenantId, callRecordId, callControlId } = c.var.telnyxMedia;
    return handToCallSession(c, { tenantId, callId: callRecordId, carrier: 'telnyx', controlId: callControlId });
  });
}
