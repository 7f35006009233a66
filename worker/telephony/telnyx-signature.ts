// Telnyx's webhook signature (API v2): `telnyx-signature-ed25519` is the base64 Ed25519 signature,
// by the account's key pair, of `${telnyx-timestamp}|${raw body}`; `telnyx-timestamp` is Unix
// seconds, and a timestamp more than 300 s from now is refused, so a captured webhook cannot be
// replayed later (developers.telnyx.com, "Webhooks": verify before trusting the event, reject
// signatures outside the replay window). Checked with Web Crypto's Ed25519, which workerd and
// Node both provide, over the body's bytes exactly as they arrived.

/** How far telnyx-timestamp may be from the Worker's clock, either way. */
export const TELNYX_SIGNATURE_TOLERANCE_S = 300;

export type TelnyxSignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale_timestamp' | 'invalid_signature' };

// 64 bytes of signature are 86 base64 characters and "==". Strict, as Telnyx's own libraries decode it.
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;
const TIMESTAMP = /^\d{1,15}$/;

const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function verifyKey(publicKey: Uint8Array): Promise<CryptoKey> {
  let key = keys.get(publicKey);
  if (!key) {
    key = crypto.subtle.importKey('raw', new Uint8Array(publicKey), { name: 'Ed25519' }, false, ['verify']);
    keys.set(publicKey, key);
  }
  return key;
}

/** Whether the request was signed by `publicKey` (the raw 32 bytes) within the tolerance of `nowMs`. */
export async function checkTelnyxSignature(
  publicKey: Uint8Array,
  signature: string | undefined,
  timestamp: string | undefined,
  body: Uint8Array,
  nowMs = Date.now(),
): Promise<TelnyxSignatureCheck> {
  if (!signature || !timestamp) return { ok: false, reason: 'missing' };
  if (!SIGNATURE.test(signature) || !TIMESTAMP.test(timestamp)) return { ok: false, reason: 'malformed' };
  if (Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > TELNYX_SIGNATURE_TOLERANCE_S) {
    return { ok: false, reason: 'stale_timestamp' };
  }
  const prefix = new TextEncoder().encode(`${timestamp}|`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const bytes = Uint8Array.from(atob(signature), (char) => char.charCodeAt(0));
  let valid = false;
  try {
    valid = await crypto.subtle.verify('Ed25519', await verifyKey(publicKey), bytes, signed);
  } catch {
    // A signature Web Crypto cannot even parse is no signature by this key.
  }
  return valid ? { ok: true } : { ok: false, reason: 'invalid_signature' };
}
