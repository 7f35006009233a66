// Standard Webhooks (standardwebhooks.com) signing, with Web Crypto only, so the same module runs
// in the Worker (verify) and in the Node bridge (sign). Signed content is
// `${webhook-id}.${webhook-timestamp}.${raw body}`; signatures are `v1,<base64 HMAC-SHA256>`,
// several may be listed space-separated; secrets are `whsec_<base64 of 24–64 bytes>`.
import { fromBase64, toBase64 } from './base64.ts';

export const SIGNATURE_TOLERANCE_SECONDS = 300;

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

const SECRET_PREFIX = 'whsec_';
const encoder = new TextEncoder();

/** The key bytes of a `whsec_…` secret, or null when it is not one (wrong prefix, bad base64, 24–64 bytes). */
export function decodeSecret(secret: string): Uint8Array<ArrayBuffer> | null {
  if (!secret.startsWith(SECRET_PREFIX)) return null;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return null;
  const bytes = fromBase64(encoded);
  return bytes.length >= 24 && bytes.length <= 64 ? bytes : null;
}

/** A new secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

export async function signWebhook(secret: string, id: string, timestamp: number, body: string | Uint8Array): Promise<string> {
  const key = await hmacKey(secret, 'sign');
  const signature = await crypto.subtle.sign('HMAC', key, signedContent(id, timestamp, body));
  return `v1,${toBase64(new Uint8Array(signature))}`;
}

/** Headers for a signed request; `id` defaults to a fresh unique message id, `timestamp` to now. */
export async function webhookHeaders(
  secret: string,
  body: string | Uint8Array,
  id = `msg_${crypto.randomUUID()}`,
  timestamp = Math.floor(Date.now() / 1000),
): Promise<WebhookHeaders> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': await signWebhook(secret, id, timestamp, body),
  };
}

/**
 * True when the request carries a valid signature by any of `secrets` over exactly `body`, with a
 * timestamp within ±300 s of `nowSeconds`. Never says which check failed: callers answer 401 alike.
 */
export async function verifyWebhook(
  secrets: readonly string[],
  headers: { id: string | null | undefined; timestamp: string | null | undefined; signature: string | null | undefined },
  body: Uint8Array,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<boolean> {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature || id.length > 256 || signature.length > 4096) return false;
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  const sentAt = Number(timestamp);
  if (Math.abs(nowSeconds - sentAt) > SIGNATURE_TOLERANCE_SECONDS) return false;

  const candidates = signature
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => entry.slice(3))
    .filter((encoded) => /^[A-Za-z0-9+/]{43}=$/.test(encoded))
    .map(fromBase64);
  if (candidates.length === 0) return false;

  const content = signedContent(id, sentAt, body);
  let valid = false;
  for (const secret of secrets) {
    const key = await hmacKey(secret, 'verify');
    // subtle.verify compares in constant time.
    for (const candidate of candidates) {
      if (await crypto.subtle.verify('HMAC', key, candidate, content)) valid = true;
    }
  }
  return valid;
}

function signedContent(id: string, timestamp: number, body: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const payload = typeof body === 'string' ? encoder.encode(body) : body;
  const content = new Uint8Array(prefix.length + payload.length);
  content.set(prefix);
  content.set(payload, prefix.length);
  return content;
}

// Importing a key costs as much as the HMAC itself; secrets change only with a deployment.
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  const cacheKey = `${usage}:${secret}`;
  let key = keys.get(cacheKey);
  if (!key) {
    const raw = decodeSecret(secret);
    if (!raw) return Promise.reject(new Error('not a whsec_ signing secret'));
    key = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
    keys.set(cacheKey, key);
  }
  return key;
}
