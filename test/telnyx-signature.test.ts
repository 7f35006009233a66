// Our Telnyx webhook signature check (worker/telephony/telnyx-signature.ts, Web Crypto Ed25519)
// against the official `telnyx` library's client.webhooks.unwrap, which we did not write: on every
// case they must agree. Signatures are made with node:crypto by the suite's key pair, as Telnyx
// makes them with the account's.
import Telnyx from 'telnyx';
import { describe, expect, it } from 'vitest';
import { loadConfig, telnyxSettings } from '../worker/lib/config.ts';
import { checkTelnyxSignature } from '../worker/telephony/telnyx-signature.ts';
import { OTHER_TELNYX_PRIVATE_KEY_PKCS8, OTHER_TELNYX_PUBLIC_KEY, TELNYX_PUBLIC_KEY } from './support/constants.ts';
import { callInitiated, ed25519Signature, nowSeconds, telnyxCall, telnyxSignature } from './support/telnyx-webhooks.ts';

const telnyx = new Telnyx({ apiKey: 'KEY-unused-here', publicKey: TELNYX_PUBLIC_KEY });

/** The key as the Worker holds it: TELNYX_PUBLIC_KEY parsed by its configuration. */
function workerKey(base64: string): Uint8Array {
  const config = loadConfig({
    DATABASE_URL: 'postgres://vca_app@localhost/vca',
    ADMIN_API_TOKENS: 'test-operator-token-new',
    TELEPHONY_SIGNING_SECRETS: 'whsec_IuybHIqPptn9u4FX0796ATJ1I5kJFzYE1qsBSKc3xzA=',
    APP_ENV: 'test',
    DEFAULT_COUNTRY: 'IN',
    TELNYX_API_KEY: 'KEY0123456789ABCDEF0123456789ABCDEF_testkeytesttest',
    TELNYX_PUBLIC_KEY: base64,
    TELNYX_CONNECTION_ID: '1494404757140276705',
    PUBLIC_BASE_URL: 'https://vca.example.com',
  });
  if (!config.ok) throw new Error(config.problems.join('; '));
  const settings = telnyxSettings(config.settings);
  if (!settings.ok) throw new Error(settings.missing.join(', '));
  return settings.telnyx.publicKey;
}

const OURS = workerKey(TELNYX_PUBLIC_KEY);

/** Ours and theirs, for the same request. */
async function both(headers: Record<string, string>, body: string, publicKey = OURS, key?: string) {
  const ours = (
    await checkTelnyxSignature(publicKey, headers['telnyx-signature-ed25519'], headers['telnyx-timestamp'], new TextEncoder().encode(body))
  ).ok;
  const theirs = await telnyx.webhooks.unwrap(body, { headers, ...(key ? { key } : {}) }).then(
    () => true,
    () => false,
  );
  return { ours, theirs };
}

const body = JSON.stringify(callInitiated(telnyxCall('+14155550100', { from: '+1 (415) 555-0123 "ünïcødé" & co' })));
const signed = (timestamp: number | string, text = body, key?: string) => ({
  'telnyx-signature-ed25519': telnyxSignature(text, timestamp, key),
  'telnyx-timestamp': String(timestamp),
});

describe('telnyx-signature-ed25519, checked against the official telnyx library', () => {
  const now = nowSeconds();
  const good = signed(now);
  const cases: [string, Record<string, string>, string, boolean][] = [
    ['a correctly signed request', good, body, true],
    ['a request signed 299 s ago', signed(now - 299), body, true],
    ['a request signed 299 s ahead (the sender’s clock is fast)', signed(now + 299), body, true],
    ['a request signed 10 minutes ago (a replay)', signed(now - 600), body, false],
    ['a request signed 10 minutes ahead', signed(now + 600), body, false],
    ['a request signed a day ago', signed(now - 86_400), body, false],
    ['no signature', { 'telnyx-timestamp': String(now) }, body, false],
    ['no timestamp', { 'telnyx-signature-ed25519': good['telnyx-signature-ed25519'] }, body, false],
    ['no headers at all', {}, body, false],
    ['an empty signature', { ...good, 'telnyx-signature-ed25519': '' }, body, false],
    ['a signature that is not base64', { ...good, 'telnyx-signature-ed25519': 'not a signature!' }, body, false],
    ['a signature of the wrong length', { ...good, 'telnyx-signature-ed25519': Buffer.alloc(32, 7).toString('base64') }, body, false],
    ['64 zero bytes as the signature', { ...good, 'telnyx-signature-ed25519': Buffer.alloc(64).toString('base64') }, body, false],
    [
      'a signature without its base64 padding',
      { ...good, 'telnyx-signature-ed25519': good['telnyx-signature-ed25519'].replace(/=+$/, '') },
      body,
      false,
    ],
    ['a signature by another key', signed(now, body, OTHER_TELNYX_PRIVATE_KEY_PKCS8), body, false],
    ['an altered body (the dialled number moved)', good, body.replace('+14155550100', '+14155550101'), false],
    ['a body with a byte added at the end', good, `${body}\n`, false],
    ['a body re-serialised with other whitespace', good, JSON.stringify(JSON.parse(body), null, 2), false],
    ['the timestamp changed after signing', { ...good, 'telnyx-timestamp': String(now - 1) }, body, false],
    ['a timestamp that is not a number', signed('soon'), body, false],
    ['a timestamp in milliseconds', signed(Date.now()), body, false],
    [
      'a signature over the body alone, without the timestamp',
      { ...good, 'telnyx-signature-ed25519': ed25519Signature(body) },
      body,
      false,
    ],
    [
      'a signature over timestamp and body without the bar',
      { ...good, 'telnyx-signature-ed25519': ed25519Signature(`${now}${body}`) },
      body,
      false,
    ],
    ['a minimal JSON body, signed', signed(now, '{}'), '{}', true],
  ];

  it.each(cases)('%s: ours and webhooks.unwrap agree (%#)', async (_label, headers, sent, valid) => {
    const { ours, theirs } = await both(headers, sent);
    expect(theirs).toBe(valid);
    expect(ours).toBe(valid);
  });

  it('reads the header names in any case, as HTTP does (the Worker reads them case-insensitively)', async () => {
    const upper = { 'Telnyx-Signature-Ed25519': good['telnyx-signature-ed25519'], 'Telnyx-Timestamp': good['telnyx-timestamp'] };
    expect(await telnyx.webhooks.unwrap(body, { headers: upper }).then(() => true)).toBe(true);
  });

  it('accepts another key’s signatures only with that key configured, in both implementations', async () => {
    const other = signed(now, body, OTHER_TELNYX_PRIVATE_KEY_PKCS8);
    expect(await both(other, body, workerKey(OTHER_TELNYX_PUBLIC_KEY), OTHER_TELNYX_PUBLIC_KEY)).toEqual({ ours: true, theirs: true });
    expect(await both(good, body, workerKey(OTHER_TELNYX_PUBLIC_KEY), OTHER_TELNYX_PUBLIC_KEY)).toEqual({ ours: false, theirs: false });
  });

  it('says why a request failed, for the log: missing, malformed, stale or a wrong signature', async () => {
    const bytes = new TextEncoder().encode(body);
    const check = (headers: Record<string, string>) =>
      checkTelnyxSignature(OURS, headers['telnyx-signature-ed25519'], headers['telnyx-timestamp'], bytes);
    expect(await check({ 'telnyx-timestamp': String(now) })).toEqual({ ok: false, reason: 'missing' });
    expect(await check({ ...good, 'telnyx-signature-ed25519': 'x' })).toEqual({ ok: false, reason: 'malformed' });
    expect(await check(signed(now - 301))).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(await check(signed(now, body, OTHER_TELNYX_PRIVATE_KEY_PKCS8))).toEqual({ ok: false, reason: 'invalid_signature' });
    expect(await check(good)).toEqual({ ok: true });
  });
});
