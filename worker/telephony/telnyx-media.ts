// The media stream URL VCA gives Telnyx in a routed call's actions/answer, and the per-call token
// in it (DESIGN.md, "Cloud carriers"). Telnyx does not sign its media WebSocket, so the URL itself
// is the credential: it names the call's tenant and call record, and carries an HMAC-SHA256 of
// both by a key only VCA holds (derived from TELNYX_API_KEY, which never leaves the Worker and
// Telnyx). A token opens one call's session and no other; a rotated API key ends the validity of
// the tokens of calls not yet streaming (seconds after their answer, nothing else).
// The token travels as the last path segment, not in a query string, so that no proxy drops it;
// the request log records the route, never the token (see the media route).

const TOKEN_LABEL = 'vca telnyx media v1';
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

async function tokenKey(apiKey: string): Promise<CryptoKey> {
  // A key of its own for media tokens: HMAC(api key, label), so the API key itself never signs anything.
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(apiKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const derived = await crypto.subtle.sign('HMAC', base, new TextEncoder().encode(TOKEN_LABEL));
  return crypto.subtle.importKey('raw', derived, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

function tokenContent(tenantId: string, callRecordId: string): Uint8Array<ArrayBuffer> {
  // Copied into a plain ArrayBuffer: Node's TextEncoder types allow a shared one, which Web Crypto refuses.
  return new Uint8Array(new TextEncoder().encode(`${tenantId}|${callRecordId}`));
}

function base64url(bytes: ArrayBuffer): string {
  let binary = '';
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64url(token: string): Uint8Array<ArrayBuffer> {
  const binary = atob(token.replaceAll('-', '+').replaceAll('_', '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/** The token of one call's media stream: base64url, 43 characters. */
export async function telnyxMediaToken(apiKey: string, tenantId: string, callRecordId: string): Promise<string> {
  return base64url(await crypto.subtle.sign('HMAC', await tokenKey(apiKey), tokenContent(tenantId, callRecordId)));
}

/** Whether the token is this call's (constant-time: Web Crypto's verify). */
export async function verifyTelnyxMediaToken(apiKey: string, tenantId: string, callRecordId: string, token: string): Promise<boolean> {
  if (!TOKEN.test(token)) return false;
  return crypto.subtle.verify('HMAC', await tokenKey(apiKey), fromBase64url(token), tokenContent(tenantId, callRecordId));
}

/** The path of a call's media WebSocket: /internal/media/telnyx/{tenant_id}/{call_record_id}/{token}. */
export function telnyxMediaPath(tenantId: string, callRecordId: string, token: string): string {
  return `/internal/media/telnyx/${tenantId}/${callRecordId}/${token}`;
}

/** The wss:// URL of a call's media stream, on PUBLIC_BASE_URL's host, for actions/answer's stream_url. */
export async function telnyxStreamUrl(publicBaseUrl: string, apiKey: string, tenantId: string, callRecordId: string): Promise<string> {
  const url = new URL(telnyxMediaPath(tenantId, callRecordId, await telnyxMediaToken(apiKey, tenantId, callRecordId)), publicBaseUrl);
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  return url.toString();
}
