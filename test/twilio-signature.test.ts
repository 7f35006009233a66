// Our X-Twilio-Signature check (worker/telephony/twilio-signature.ts, Web Crypto) against the
// official `twilio` library, which we did not write: on every case they must agree.
import { describe, expect, it } from 'vitest';
import { twilioSignature, verifyTwilioSignature } from '../worker/telephony/twilio-signature.ts';
import { OTHER_TWILIO_AUTH_TOKEN, TWILIO_AUTH_TOKEN } from './support/constants.ts';
import { twilio, voiceParams } from './support/twilio.ts';

const URL_ = 'https://vca.example.com/webhooks/twilio/voice';
const params = voiceParams('+919876543210', {
  From: '+1 (415) 555-0123 & "friends" ünïcødé',
  CallSid: 'CA0123456789abcdef0123456789abcdef',
});

/** Ours and theirs, for the same request. */
async function both(signature: string | undefined, url: string, sent: Record<string, string> | [string, string][]) {
  const pairs = Array.isArray(sent) ? sent : Object.entries(sent);
  const object: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const existing = object[name];
    object[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const ours = await verifyTwilioSignature(TWILIO_AUTH_TOKEN, signature, url, pairs);
  const theirs = twilio.validateRequest(TWILIO_AUTH_TOKEN, signature ?? '', url, object);
  return { ours, theirs };
}

describe('X-Twilio-Signature, checked against the official twilio library', () => {
  it('computes exactly the signature getExpectedTwilioSignature computes', async () => {
    expect(await twilioSignature(TWILIO_AUTH_TOKEN, URL_, Object.entries(params))).toBe(
      twilio.getExpectedTwilioSignature(TWILIO_AUTH_TOKEN, URL_, params),
    );
    expect(await twilioSignature(TWILIO_AUTH_TOKEN, `wss://vca.example.com/internal/media/twilio/a/b`, [])).toBe(
      twilio.getExpectedTwilioSignature(TWILIO_AUTH_TOKEN, 'wss://vca.example.com/internal/media/twilio/a/b', {}),
    );
  });

  const signed = twilio.getExpectedTwilioSignature(TWILIO_AUTH_TOKEN, URL_, params);
  const cases: [string, string | undefined, string, Record<string, string> | [string, string][], boolean][] = [
    ['a correctly signed request', signed, URL_, params, true],
    ['no signature', undefined, URL_, params, false],
    ['an empty signature', '', URL_, params, false],
    ['a signature that is not base64 of 20 bytes', 'not a signature', URL_, params, false],
    ['a signature by another auth token', twilio.getExpectedTwilioSignature(OTHER_TWILIO_AUTH_TOKEN, URL_, params), URL_, params, false],
    ['an altered parameter', signed, URL_, { ...params, To: '+919876543211' }, false],
    ['an added parameter', signed, URL_, { ...params, Extra: '1' }, false],
    ['a removed parameter', signed, URL_, Object.fromEntries(Object.entries(params).filter(([name]) => name !== 'From')), false],
    ['another URL (path)', signed, 'https://vca.example.com/webhooks/twilio/status', params, false],
    ['another URL (host)', signed, 'https://evil.example.com/webhooks/twilio/voice', params, false],
    ['another URL (scheme)', signed, 'http://vca.example.com/webhooks/twilio/voice', params, false],
    ['the URL with its default port written out', signed, 'https://vca.example.com:443/webhooks/twilio/voice', params, true],
    [
      'a URL signed with its port, checked without',
      twilio.getExpectedTwilioSignature(TWILIO_AUTH_TOKEN, 'https://vca.example.com:443/webhooks/twilio/voice', params),
      URL_,
      params,
      true,
    ],
    [
      'a repeated parameter, signed with its values sorted',
      twilio.getExpectedTwilioSignature(TWILIO_AUTH_TOKEN, URL_, { ...params, Tag: ['b', 'a'] }),
      URL_,
      [...Object.entries(params), ['Tag', 'b'], ['Tag', 'a']],
      true,
    ],
    [
      'a query string on the URL',
      twilio.getExpectedTwilioSignature(TWILIO_AUTH_TOKEN, `${URL_}?tenant=1&x=a%20b`, params),
      `${URL_}?tenant=1&x=a%20b`,
      params,
      true,
    ],
    ['a query string that was not signed', signed, `${URL_}?tenant=1`, params, false],
  ];

  it.each(cases)('%s: ours and twilio.validateRequest agree (%#)', async (_label, signature, url, sent, valid) => {
    const { ours, theirs } = await both(signature, url, sent);
    expect(theirs).toBe(valid);
    expect(ours).toBe(valid);
  });
});
