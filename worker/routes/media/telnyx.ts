// Telnyx's media stream of a routed call: the WebSocket Telnyx opens to the stream_url VCA gave in
// actions/answer. Telnyx does not sign it, so the URL is the credential: its last segment is the
// call's token (worker/telephony/telnyx-media.ts), an HMAC over the tenant and call record in the
// path by a key only VCA holds. The token is checked before anything else is read, every failure
// is the same 401, and it never reaches a log line (the request log records the path without it).
import { createRoute, z } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import type { App, AppEnv } from '../../lib/env.ts';
import { ApiError, problems } from '../../lib/problem.ts';
import { verifyTelnyxMediaToken } from '../../telephony/telnyx-media.ts';
import { handToCallSession } from './session.ts';

const PREFIX = '/internal/media/telnyx/';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The media path as the log may show it: ids kept when they are ids, the token (and anything else) never. */
export function telnyxMediaLogPath(path: string): string {
  const [tenantId = '', callId = ''] = path.slice(PREFIX.length).split('/');
  const id = (value: string) => (UUID.test(value) ? value : '…');
  return `${PREFIX}${id(tenantId)}/${id(callId)}/[token]`;
}

/** First on the Telnyx media routes: whatever happens next, the request's log line carries no token. */
export const hideTelnyxMediaToken = createMiddleware<AppEnv>(async (c, next) => {
  c.set('logPath', telnyxMediaLogPath(c.req.path));
  await next();
});

/** The path's token must be the one VCA made for its tenant and call record; otherwise 401, nothing opened. */
export const requireTelnyxMediaToken = createMiddleware<AppEnv>(async (c, next) => {
  const [tenantId = '', callId = '', token = '', ...rest] = c.req.path.slice(PREFIX.length).split('/');
  const valid = rest.length === 0 && (await verifyTelnyxMediaToken(c.var.telnyx.apiKey, tenantId, callId, token));
  if (!valid) {
    c.var.log.warn('[CALL SESSION] rejected: invalid Telnyx media token', {
      tenant_id: UUID.test(tenantId) ? tenantId : undefined,
      call_record_id: UUID.test(callId) ? callId : undefined,
    });
    throw new ApiError(401, 'invalid_token', 'Unauthorized', 'This URL does not carry the media token of a call.');
  }
  await next();
});

const route = createRoute({
  method: 'get',
  path: '/internal/media/telnyx/{tenant_id}/{call_record_id}/{token}',
  tags: ['Call sessions'],
  summary: 'A Telnyx call’s audio (media streaming): the WebSocket into its AI session',
  description: [
    'The `stream_url` of the `actions/answer` command VCA sent for a routed call (with `stream_track: inbound_track`, `stream_bidirectional_mode: rtp`, `stream_bidirectional_codec: PCMU`).',
    'Telnyx does not sign its media WebSocket: the last path segment is the call’s token, an HMAC-SHA256 over the tenant and call record id by a key derived from TELNYX_API_KEY, so a URL opens only its own call. A missing, altered or another call’s token is 401 and nothing is opened or recorded.',
    'The socket goes to the call’s CallSession, which answers 101 only once the voice model is ready (within 3 s); then it speaks Telnyx’s media streaming messages.',
    'The session starts when Telnyx’s `start` message names this call: its `call_session_id` must be the call’s `external_call_id` and its `client_state` (base64) this call record id; otherwise the socket is closed (1008) and nothing is recorded. Audio that is not 8 kHz μ-law (`media_format`) ends the call (1003).',
    'Closing the socket does not end a Telnyx call, so when the session ends the call (the agent’s `end_call`, the time limit, a model failure) it sends `actions/hangup` with the start’s `call_control_id`.',
    'A call that is unknown, another tenant’s, already ended, or whose tenant is inactive is refused before anything opens.',
  ].join(' '),
  security: [],
  request: {
    params: z.object({
      tenant_id: z.uuid().openapi({ param: { name: 'tenant_id', in: 'path' }, description: 'The tenant of the routed call' }),
      call_record_id: z.uuid().openapi({ param: { name: 'call_record_id', in: 'path' }, description: 'The call record id' }),
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
    const { tenant_id: tenantId, call_record_id: callId } = c.req.valid('param');
    return handToCallSession(c, { tenantId, callId, carrier: 'telnyx' });
  });
}
