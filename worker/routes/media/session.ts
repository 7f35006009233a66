import type { Context } from 'hono';
import type { AppEnv } from '../../lib/env.ts';
import { ApiError } from '../../lib/problem.ts';
import { SESSION_HEADERS } from '../../session/call-session.ts';
import type { SignedRoute } from '../../session/records.ts';

/**
 * A verified media upgrade: the call, its tenant and carrier, the carrier account its stream must
 * name, the carrier's control id of the call (Telnyx), and the route its signature vouches for (the bridge's: then the session does not need the
 * call's row to start).
 */
export interface MediaHandOff {
  tenantId: string;
  callId: string;
  carrier: 'asterisk' | 'twilio' | 'telnyx';
  account?: string;
  /** The id the carrier's API commands the call by, as the media URL vouched for it (Telnyx's call_control_id). */
  controlId?: string;
  route?: SignedRoute;
}

/**
 * Hands a media upgrade whose signature its route has verified to the call's CallSession. Only
 * the route the signature vouched for travels on. Answers the session's 101 with the socket, or
 * its problem+json refusal.
 */
export async function handToCallSession(c: Context<AppEnv>, handOff: MediaHandOff): Promise<Response> {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError(426, 'upgrade_required', 'Upgrade required', 'This endpoint takes a WebSocket upgrade.', {
      headers: { upgrade: 'websocket' },
    });
  }
  const sessions = c.env.CALL_SESSION;
  if (!sessions) throw new ApiError(503, 'service_misconfigured', 'Service unavailable', 'The CALL_SESSION binding is missing.');
  const headers = new Headers({
    upgrade: 'websocket',
    [SESSION_HEADERS.tenant]: handOff.tenantId,
    [SESSION_HEADERS.call]: handOff.callId,
    [SESSION_HEADERS.carrier]: handOff.carrier,
  });
  if (handOff.account) headers.set(SESSION_HEADERS.account, handOff.account);
  if (handOff.controlId) headers.set(SESSION_HEADERS.controlId, handOff.controlId);
  if (handOff.route) {
    headers.set(SESSION_HEADERS.phoneNumber, handOff.route.phoneNumberId);
    headers.set(SESSION_HEADERS.aiProfile, handOff.route.aiProfileId ?? '');
    headers.set(SESSION_HEADERS.externalCall, handOff.route.externalCallId);
  }
  const answer = await sessions.get(sessions.idFromName(handOff.callId)).fetch(`https://call-session/${handOff.carrier}`, { headers });
  c.set('logEntry', {
    msg: '[CALL SESSION] media',
    fields: { carrier: handOff.carrier, call_record_id: handOff.callId, tenant_id: handOff.tenantId, status: answer.status },
  });
  return answer;
}
