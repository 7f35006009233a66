// The media stream URL VCA gives Telnyx in a routed call's actions/answer, and the per-call token
// in it (DESIGN.md, "Cloud carriers"). Telnyx does not sign its media WebSocket, so the URL itself
// is the credential: it names the call's tenant, call record and Telnyx call_control_id, and
// carries an HMAC-SHA256 of all three by a key only VCA holds (derived from TELNYX_API_KEY, which
// never leaves the Worker and Telnyx). A token opens one call's session and no other, and the
// call_control_id it vouches for is the one the session may hang up even before (or without)
// Telnyx's `start`. A rotated API key ends the validity of the tokens of calls not yet streaming
// (seconds after their answer, nothing else).
// The token travels as the last path segment, not in a query string, so that no proxy drops it;
// the request log records the route, never the token or the call_control_id (see the media route).
import { fromBase64url, toBase64url } from '../../contract/base64.ts';
import { TELNYX_CALL_CONTROL_ID } from './telnyx-api.ts';

/** v2: the call_control_id is signed too (v1 tokens, of the tenant and call record only, are refused). */
const TOKEN_LABEL = 'vca telnyx media v2';
/**
 * 32 bytes in base64url: 43 characters, the last carrying 4 bits and two zero bits. Only that
 * canonical spelling is VCA's: the last character's other three spellings decode to the same
 * bytes, and an altered URL must not pass for the one VCA gave Telnyx.
 */
const TOKEN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const PREFIX = '/internal/media/telnyx/';

async function tokenKey(apiKey: string): Promise<CryptoKey> {
  // A key of its own for media tokens: HMAC(api key, label), so the API key itself never signs anything.
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(apiKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const derived = await crypto.subtle.sign('HMAC', base, new TextEncoder().encode(TOKEN_LABEL));
  return crypto.subtle.importKey('raw', derived, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

/** What a media stream URL names: the call's tenant, its call record and Telnyx's call_control_id. */
export interface TelnyxMediaRoute {
  tenantId: string;
  callRecordId: string;
  callControlId: string;
}

function tokenContent(route: TelnyxMediaRoute): Uint8Array<ArrayBuffer> {
  // `|` appears in none of the three (UUIDs, and a call_control_id of TELNYX_CALL_CONTROL_ID's characters).
  // Copied into a plain ArrayBuffer: Node's TextEncoder types allow a shared one, which Web Crypto refuses.
  return new Uint8Array(new TextEncoder().encode(`${route.tenantId}|${route.callRecordId}|${route.callControlId}`));
}

/** The token of one call's media stream: base64url, 43 characters. */
export async function telnyxMediaToken(apiKey: string, route: TelnyxMediaRoute): Promise<string> {
  return toBase64url(new Uint8Array(await crypto.subtle.sign('HMAC', await tokenKey(apiKey), tokenContent(route))));
}

/**
 * The path of a call's media WebSocket:
 * /internal/media/telnyx/{tenant_id}/{call_record_id}/{call_control_id}/{token}, the
 * call_control_id URL-encoded (Telnyx's look like `v3:…`; `:` and anything else not
 * unreserved is percent-encoded, so no proxy reads it as more than one segment).
 */
export function telnyxMediaPath(route: TelnyxMediaRoute, token: string): string {
  return `${PREFIX}${route.tenantId}/${route.callRecordId}/${encodeURIComponent(route.callControlId)}/${token}`;
}

/** The wss:// URL of a call's media stream, on PUBLIC_BASE_URL's host, for actions/answer's stream_url. */
export async function telnyxStreamUrl(publicBaseUrl: string, apiKey: string, route: TelnyxMediaRoute): Promise<string> {
  const url = new URL(telnyxMediaPath(route, await telnyxMediaToken(apiKey, route)), publicBaseUrl);
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  return url.toString();
}

/**
 * The route a media path (as sent: percent-encoded) vouches for, when its token is the one VCA
 * made for it (constant-time: Web Crypto's verify); undefined for anything else — another shape,
 * a segment that does not decode, a call_control_id that is not one, a wrong token.
 */
export async function verifyTelnyxMediaPath(apiKey: string, path: string): Promise<TelnyxMediaRoute | undefined> {
  if (!path.startsWith(PREFIX)) return undefined;
  const segments = path.slice(PREFIX.length).split('/');
  if (segments.length !== 4) return undefined;
  let decoded: string[];
  try {
    decoded = segments.map((segment) => decodeURIComponent(segment));
  } catch {
    return undefined;
  }
  const [tenantId = '', callRecordId = '', callControlId = '', token = ''] = decoded;
  if (!TOKEN.test(token) || !TELNYX_CALL_CONTROL_ID.test(callControlId)) return undefined;
  const route = { tenantId, callRecordId, callControlId };
  const valid = await crypto.subtle.verify('HMAC', await tokenKey(apiKey), fromBase64url(token), tokenContent(route));
  return valid ? route : undefined;
}
