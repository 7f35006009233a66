// Base64 and base64url over bytes, for the Worker and the bridge alike (Web APIs only: btoa/atob
// exist in workerd and Node). One home for what signatures, tokens, API keys and audio frames use.

/** Standard base64, with padding. Chunked, so that a second of audio is not a call per byte. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The bytes of standard base64; throws on anything that is not base64. */
export function fromBase64(encoded: string): Uint8Array<ArrayBuffer> {
  const binary = atob(encoded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** base64url without padding (RFC 4648 §5): safe in a path segment or a token. */
export function toBase64url(bytes: Uint8Array): string {
  return toBase64(bytes).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** The bytes of base64url (padding optional); throws on anything that is not base64url. */
export function fromBase64url(encoded: string): Uint8Array<ArrayBuffer> {
  return fromBase64(encoded.replaceAll('-', '+').replaceAll('_', '/'));
}
