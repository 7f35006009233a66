// Standard Webhooks signing (contract/signing.ts), checked against the example published
// with the specification (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md).
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeSecret,
  generateSecret,
  SIGNATURE_TOLERANCE_SECONDS,
  signWebhook,
  verifyWebhook,
  webhookHeaders,
} from '../contract/signing.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const BODY = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

/** The published example's headers, with any of them replaced. */
function exampleHeaders(overrides: Partial<Record<'id' | 'timestamp' | 'signature', string | null | undefined>> = {}) {
  return { id: ID, timestamp: String(TIMESTAMP), signature: SIGNATURE, ...overrides };
}

/** verifyWebhook on the published example, at the example's own time unless told otherwise. */
function verifyExample(
  overrides: Parameters<typeof exampleHeaders>[0] = {},
  { secrets = [SECRET], body = bytes(BODY), now = TIMESTAMP }: { secrets?: string[]; body?: Uint8Array; now?: number } = {},
) {
  return verifyWebhook(secrets, exampleHeaders(overrides), body, now);
}

/** An independent HMAC (node:crypto) over arbitrary signed content, for cases signWebhook cannot express. */
function nodeSignature(secret: string, content: Buffer | string) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(content).digest('base64')}`;
}

describe('signWebhook', () => {
  it('produces exactly the signature of the published Standard Webhooks example', async () => {
    expect(await signWebhook(SECRET, ID, TIMESTAMP, BODY)).toBe(SIGNATURE);
  });

  it('signs a body given as bytes the same as the same body given as text', async () => {
    expect(await signWebhook(SECRET, ID, TIMESTAMP, bytes(BODY))).toBe(SIGNATURE);
  });

  it('agrees with an independent HMAC-SHA256 over "id.timestamp.body"', async () => {
    const secret = generateSecret();
    const body = '{"call_id":"1706556789.123","called_number":"+919876543210"}';
    expect(await signWebhook(secret, 'msg_1', 1_700_000_000, body)).toBe(nodeSignature(secret, `msg_1.1700000000.${body}`));
  });

  it('refuses to sign with something that is not a whsec_ secret', async () => {
    await expect(signWebhook('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', ID, TIMESTAMP, BODY)).rejects.toThrow(/whsec_/);
  });
});

describe('verifyWebhook', () => {
  it('accepts the published example at its own timestamp', async () => {
    expect(await verifyExample()).toBe(true);
  });

  it(`accepts a timestamp up to ${SIGNATURE_TOLERANCE_SECONDS} s in the past or the future`, async () => {
    expect(SIGNATURE_TOLERANCE_SECONDS).toBe(300);
    expect(await verifyExample({}, { now: TIMESTAMP + 300 })).toBe(true);
    expect(await verifyExample({}, { now: TIMESTAMP - 300 })).toBe(true);
    expect(await verifyExample({}, { now: TIMESTAMP + 1 })).toBe(true);
    expect(await verifyExample({}, { now: TIMESTAMP - 1 })).toBe(true);
  });

  it('refuses a timestamp 301 s in the past or the future', async () => {
    expect(await verifyExample({}, { now: TIMESTAMP + 301 })).toBe(false);
    expect(await verifyExample({}, { now: TIMESTAMP - 301 })).toBe(false);
  });

  it('refuses the body with one byte changed', async () => {
    const tampered = bytes(BODY);
    const last = tampered.length - 2;
    tampered[last] = (tampered[last] ?? 0) ^ 0x01; // '4' → '5'
    expect(new TextDecoder().decode(tampered)).toBe('{"test": 2432232315}');
    expect(await verifyExample({}, { body: tampered })).toBe(false);
  });

  it('refuses the body with a byte added or removed', async () => {
    expect(await verifyExample({}, { body: bytes(`${BODY}\n`) })).toBe(false);
    expect(await verifyExample({}, { body: bytes(BODY.slice(0, -1)) })).toBe(false);
    expect(await verifyExample({}, { body: new Uint8Array() })).toBe(false);
  });

  it('refuses the signature under a different message id', async () => {
    expect(await verifyExample({ id: 'msg_p5jXN8AQM9LWM0D4loKWxJel' })).toBe(false);
  });

  it('refuses the signature under a different timestamp, even one inside the tolerance', async () => {
    expect(await verifyExample({ timestamp: String(TIMESTAMP + 1) })).toBe(false);
    expect(await verifyExample({ timestamp: String(TIMESTAMP - 1) })).toBe(false);
  });

  it('refuses a signature made with another secret', async () => {
    expect(await verifyExample({}, { secrets: [generateSecret()] })).toBe(false);
  });

  it('accepts when the right signature is any of several space-separated entries', async () => {
    const wrong = await signWebhook(generateSecret(), ID, TIMESTAMP, BODY);
    expect(wrong).not.toBe(SIGNATURE);
    expect(await verifyExample({ signature: `${wrong} ${SIGNATURE}` })).toBe(true);
    expect(await verifyExample({ signature: `${SIGNATURE} ${wrong}` })).toBe(true);
    expect(await verifyExample({ signature: `v2,abc ${SIGNATURE}` })).toBe(true);
    expect(await verifyExample({ signature: wrong })).toBe(false);
  });

  it('accepts a signature by the second of the current secrets (rotation), and refuses once that secret is dropped', async () => {
    const other = generateSecret();
    expect(await verifyExample({}, { secrets: [other, SECRET] })).toBe(true);
    expect(await verifyExample({}, { secrets: [SECRET, other] })).toBe(true);
    expect(await verifyExample({}, { secrets: [other] })).toBe(false);
    expect(await verifyExample({}, { secrets: [] })).toBe(false);
  });

  it('refuses a correct HMAC under any version but v1', async () => {
    const hmac = SIGNATURE.slice('v1,'.length);
    expect(await verifyExample({ signature: `v2,${hmac}` })).toBe(false);
    expect(await verifyExample({ signature: `v1a,${hmac}` })).toBe(false);
    expect(await verifyExample({ signature: `V1,${hmac}` })).toBe(false);
  });

  it('refuses malformed signature entries', async () => {
    const hmac = SIGNATURE.slice('v1,'.length);
    for (const signature of [
      hmac, // no version
      `v1${hmac}`, // no comma
      `v1 ${hmac}`, // space instead of comma
      'v1,',
      'v1,!!!!',
      `v1,${hmac.slice(0, -1)}`, // padding dropped
      `v1,${hmac.slice(1)}`, // truncated
      `v1,${hmac}AAAA`, // too long
      ' ',
    ]) {
      expect(await verifyExample({ signature }), signature).toBe(false);
    }
  });

  it('refuses empty or missing headers', async () => {
    for (const name of ['id', 'timestamp', 'signature'] as const) {
      for (const value of ['', null, undefined]) {
        expect(await verifyExample({ [name]: value }), `${name} = ${JSON.stringify(value)}`).toBe(false);
      }
    }
  });

  it('refuses a timestamp that is not plain Unix seconds, even when the HMAC would match', async () => {
    // Each of these reads as the example's number, so only the format check can refuse them.
    for (const timestamp of [`${TIMESTAMP}.0`, ` ${TIMESTAMP}`, `+${TIMESTAMP}`, `${TIMESTAMP}e0`, `0x${TIMESTAMP.toString(16)}`]) {
      expect(Number(timestamp)).toBe(TIMESTAMP);
      expect(await verifyExample({ timestamp }), timestamp).toBe(false);
    }
    expect(await verifyExample({ timestamp: 'yesterday' })).toBe(false);
    expect(await verifyExample({ timestamp: '-1' })).toBe(false);
  });

  it('refuses a non-numeric timestamp, which would otherwise escape the ±300 s window', async () => {
    // Read as a number, "now" is NaN: no distance from now is "too far", and the content would be "id.NaN.body".
    const signature = nodeSignature(SECRET, `${ID}.NaN.${BODY}`);
    for (const timestamp of ['now', 'NaN', 'abc']) {
      expect(await verifyExample({ timestamp, signature }), timestamp).toBe(false);
    }
  });

  it('verifies over the raw bytes: non-ASCII UTF-8 bodies verify as signed, and a re-encoding of them does not', async () => {
    const body = '{"caller_name": "Peña 📞", "note": "ñ"}';
    const utf8 = bytes(body);
    expect(utf8.length).toBeGreaterThan(body.length); // multi-byte characters really are in there

    const signature = await signWebhook(SECRET, ID, TIMESTAMP, body);
    expect(signature).toBe(nodeSignature(SECRET, Buffer.concat([Buffer.from(`${ID}.${TIMESTAMP}.`), Buffer.from(utf8)])));
    expect(await signWebhook(SECRET, ID, TIMESTAMP, utf8)).toBe(signature);
    expect(await verifyExample({ signature }, { body: utf8 })).toBe(true);

    // The same text in another encoding is other bytes: refused.
    const latin1 = new Uint8Array(Buffer.from('{"note": "ñ"}', 'latin1'));
    const latin1Signature = await signWebhook(SECRET, ID, TIMESTAMP, '{"note": "ñ"}');
    expect(await verifyExample({ signature: latin1Signature }, { body: latin1 })).toBe(false);
  });

  it('verifies a body that is not valid UTF-8 byte for byte', async () => {
    const body = new Uint8Array([0x7b, 0xff, 0xfe, 0x00, 0x80, 0x7d]);
    const signature = await signWebhook(SECRET, ID, TIMESTAMP, body);
    expect(await verifyExample({ signature }, { body })).toBe(true);
    expect(await verifyExample({ signature }, { body: bytes(new TextDecoder().decode(body)) })).toBe(false);
  });
});

describe('decodeSecret', () => {
  it('returns the key bytes of a whsec_ secret', () => {
    const key = decodeSecret(SECRET);
    expect(key).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(key as Uint8Array).equals(Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'))).toBe(true);
    expect(key).toHaveLength(24);
  });

  it('rejects a secret without the whsec_ prefix', () => {
    expect(decodeSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBeNull();
    expect(decodeSecret('whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBeNull();
    expect(decodeSecret('WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBeNull();
    expect(decodeSecret(' whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBeNull();
    expect(decodeSecret('')).toBeNull();
  });

  it('rejects a secret whose key is not valid base64', () => {
    expect(decodeSecret('whsec_')).toBeNull();
    expect(decodeSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!')).toBeNull(); // bad character
    expect(decodeSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA')).toBeNull(); // length not a multiple of 4
    expect(decodeSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=w')).toBeNull(); // padding in the middle
    expect(decodeSecret('whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw')).toBeNull(); // space
    expect(decodeSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa_w')).toBeNull(); // base64url, not base64
  });

  it('accepts keys of 24 to 64 bytes and rejects shorter or longer ones', () => {
    const secretOf = (length: number) => `whsec_${Buffer.alloc(length, 7).toString('base64')}`;
    expect(decodeSecret(secretOf(23))).toBeNull();
    expect(decodeSecret(secretOf(24))).toHaveLength(24);
    expect(decodeSecret(secretOf(32))).toHaveLength(32);
    expect(decodeSecret(secretOf(64))).toHaveLength(64);
    expect(decodeSecret(secretOf(65))).toBeNull();
    expect(decodeSecret(secretOf(1))).toBeNull();
  });
});

describe('generateSecret', () => {
  it('gives whsec_ and the base64 of 32 bytes, which decodeSecret accepts', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const key = decodeSecret(secret);
    expect(key).toHaveLength(32);
    expect(Buffer.from(key as Uint8Array).toString('base64')).toBe(secret.slice('whsec_'.length));
  });

  it('gives a different secret every time', () => {
    const secrets = new Set(Array.from({ length: 20 }, () => generateSecret()));
    expect(secrets.size).toBe(20);
  });

  it('gives a secret that signs and verifies', async () => {
    const secret = generateSecret();
    const signature = await signWebhook(secret, ID, TIMESTAMP, BODY);
    expect(await verifyWebhook([secret], exampleHeaders({ signature }), bytes(BODY), TIMESTAMP)).toBe(true);
  });
});

describe('webhookHeaders', () => {
  it('returns the three Standard Webhooks headers for the given id and timestamp, matching the example', async () => {
    expect(await webhookHeaders(SECRET, BODY, ID, TIMESTAMP)).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': String(TIMESTAMP),
      'webhook-signature': SIGNATURE,
    });
  });

  it('defaults to a fresh msg_ id and the current time, and the headers verify now', async () => {
    const body = '{"call_id":"1706556789.123"}';
    const before = Math.floor(Date.now() / 1000);
    const first = await webhookHeaders(SECRET, body);
    const second = await webhookHeaders(SECRET, body);
    const after = Math.floor(Date.now() / 1000);

    expect(Object.keys(first).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    expect(first['webhook-id']).toMatch(/^msg_\S+$/);
    expect(second['webhook-id']).not.toBe(first['webhook-id']);
    expect(first['webhook-timestamp']).toMatch(/^\d+$/);
    expect(Number(first['webhook-timestamp'])).toBeGreaterThanOrEqual(before);
    expect(Number(first['webhook-timestamp'])).toBeLessThanOrEqual(after);
    expect(first['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

    const headers = { id: first['webhook-id'], timestamp: first['webhook-timestamp'], signature: first['webhook-signature'] };
    expect(await verifyWebhook([SECRET], headers, bytes(body))).toBe(true);
    expect(await verifyWebhook([SECRET], headers, bytes(`${body} `))).toBe(false);
  });

  it('signs a byte body the same as its text', async () => {
    const body = '{"caller_number": "José ☎"}';
    expect(await webhookHeaders(SECRET, bytes(body), ID, TIMESTAMP)).toEqual(await webhookHeaders(SECRET, body, ID, TIMESTAMP));
  });
});
