// Twilio's request signature, X-Twilio-Signature: base64 of HMAC-SHA1, keyed with the account's
// auth token, over the URL Twilio requested followed by the form parameters sorted by name, each
// name immediately followed by its value (a media WebSocket upgrade has no parameters: the URL
// alone). Web Crypto only; the test suite checks it against the official `twilio` library on
// every case. The URL is the one Twilio was configured with (PUBLIC_BASE_URL + path), never the
// Host a proxy in front of the Worker passed on: that is what Twilio signed.

const encoder = new TextEncoder();

/** Form parameters as sent: a name may repeat. */
export type TwilioParams = Iterable<readonly [string, string]>;

/** The base64 signature Twilio would send for this request. */
export async function twilioSignature(authToken: string, url: string, params: TwilioParams): Promise<string> {
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(authToken, 'sign'), signedContent(url, params));
  let binary = '';
  for (const byte of new Uint8Array(signature)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * True when `signature` is Twilio's for this URL and these parameters. The URL is also tried with
 * its scheme's default port written out or left off, since Twilio signs the URL as it was
 * configured and the official libraries accept both. Compared in constant time (subtle.verify).
 */
export async function verifyTwilioSignature(
  authToken: string,
  signature: string | null | undefined,
  url: string,
  params: TwilioParams,
): Promise<boolean> {
  // HMAC-SHA1 is 20 bytes: 28 base64 characters.
  if (!signature || !/^[A-Za-z0-9+/]{27}=$/.test(signature)) return false;
  const expected = Uint8Array.from(atob(signature), (character) => character.charCodeAt(0));
  const key = await hmacKey(authToken, 'verify');
  const pairs = [...params];
  let valid = false;
  for (const candidate of new Set([url, withoutPort(url), withDefaultPort(url)])) {
    if (await crypto.subtle.verify('HMAC', key, expected, signedContent(candidate, pairs))) valid = true;
  }
  return valid;
}

/** The URL, then each parameter name + value, names in code-unit order; a repeated name's distinct values sorted. */
function signedContent(url: string, params: TwilioParams): Uint8Array<ArrayBuffer> {
  const byName = new Map<string, Set<string>>();
  for (const [name, value] of params) {
    const values = byName.get(name) ?? new Set<string>();
    byName.set(name, values.add(value));
  }
  let content = url;
  for (const name of [...byName.keys()].sort()) {
    for (const value of [...(byName.get(name) as Set<string>)].sort()) content += name + value;
  }
  return encoder.encode(content) as Uint8Array<ArrayBuffer>;
}

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;
const DEFAULT_PORTS: Record<string, string> = { 'https://': ':443', 'wss://': ':443', 'http://': ':80', 'ws://': ':80' };

function splitUrl(url: string) {
  const match = AUTHORITY.exec(url);
  if (!match) return undefined;
  const [, scheme = '', authority = '', rest = ''] = match;
  // A colon after an IPv6 literal's closing bracket (or in a plain host) starts the port.
  const portStart = authority.indexOf(':', authority.lastIndexOf(']') + 1);
  return {
    scheme,
    host: portStart === -1 ? authority : authority.slice(0, portStart),
    port: portStart === -1 ? '' : authority.slice(portStart),
    rest,
  };
}

function withoutPort(url: string): string {
  const parts = splitUrl(url);
  return parts ? parts.scheme + parts.host + parts.rest : url;
}

function withDefaultPort(url: string): string {
  const parts = splitUrl(url);
  const port = parts && DEFAULT_PORTS[parts.scheme.toLowerCase()];
  return parts && port && !parts.port ? parts.scheme + parts.host + port + parts.rest : url;
}

// The auth token changes only with a deployment: import its key once.
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(authToken: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  const cacheKey = `${usage}:${authToken}`;
  let key = keys.get(cacheKey);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(authToken), { name: 'HMAC', hash: 'SHA-1' }, false, [usage]);
    keys.set(cacheKey, key);
  }
  return key;
}
