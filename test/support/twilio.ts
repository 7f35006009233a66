// Twilio's side of a call, as Twilio sends it: form-encoded webhooks signed by the official
// `twilio` library (getExpectedTwilioSignature) over the URL Twilio was configured with —
// PUBLIC_BASE_URL + path — and sent to the real address of the Worker, as behind a proxy.
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { type ApiResponse, api } from './api.ts';
import { PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN } from './constants.ts';

export { twilio };

export const TWILIO_PATHS = { voice: '/webhooks/twilio/voice', status: '/webhooks/twilio/status' } as const;

export const randomCallSid = () => `CA${randomBytes(16).toString('hex')}`;

export interface TwilioPostOptions {
  /** Sign with this auth token (default: the configured account's). null: send no signature. */
  token?: string | null;
  /** Sign over this URL instead of PUBLIC_BASE_URL + path. */
  signedUrl?: string;
  /** Sign these parameters, send `params` (to alter a parameter after signing). */
  signedParams?: Record<string, string>;
  baseUrl?: string;
}

export async function twilioPost(path: string, params: Record<string, string>, options: TwilioPostOptions = {}): Promise<ApiResponse> {
  const token = options.token === undefined ? TWILIO_AUTH_TOKEN : options.token;
  const url = options.signedUrl ?? `${PUBLIC_BASE_URL}${path}`;
  // As Twilio sends it, charset and all.
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' };
  if (token !== null) headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(token, url, options.signedParams ?? params);
  return api('POST', path, { token: null, raw: new URLSearchParams(params).toString(), headers, baseUrl: options.baseUrl });
}

/** The voice webhook's parameters for a call from `from` to `to`, as Twilio sends them for an incoming call. */
export function voiceParams(to: string, fields: Record<string, string> = {}): Record<string, string> {
  const from = fields.From ?? '+14155550123';
  return {
    AccountSid: TWILIO_ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    CallSid: randomCallSid(),
    CallStatus: 'ringing',
    CallToken: `%7B%22parentCallInfoToken%22%3A%22${randomBytes(8).toString('hex')}%22%7D`,
    Called: to,
    CalledCountry: 'IN',
    Caller: from,
    CallerCountry: 'US',
    Direction: 'inbound',
    From: from,
    FromCountry: 'US',
    FromState: 'CA',
    StirVerstat: 'TN-Validation-Passed-A',
    To: to,
    ToCountry: 'IN',
    ...fields,
  };
}

/** A status callback for the call, as Twilio sends it to the number's StatusCallback. */
export function statusParams(call: { CallSid: string; To: string }, callStatus: string, fields: Record<string, string> = {}) {
  return {
    AccountSid: TWILIO_ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    CallSid: call.CallSid,
    CallStatus: callStatus,
    Called: call.To,
    Direction: 'inbound',
    From: '+14155550123',
    To: call.To,
    Timestamp: new Date().toUTCString(),
    SequenceNumber: '0',
    ...fields,
  };
}

export function sendVoice(params: Record<string, string>, options?: TwilioPostOptions) {
  return twilioPost(TWILIO_PATHS.voice, params, options);
}

export function sendStatus(params: Record<string, string>, options?: TwilioPostOptions) {
  return twilioPost(TWILIO_PATHS.status, params, options);
}

/** What a TwiML answer says: a stream (url and parameters) or a rejection (reason). */
export function readTwiml(text: string): { stream?: { url: string; parameters: Record<string, string> }; reject?: string } {
  const decode = (value: string) =>
    value.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))).replaceAll('&amp;', '&');
  const reject = /^<\?xml version="1\.0" encoding="UTF-8"\?><Response><Reject reason="([a-z]+)"\/><\/Response>$/.exec(text);
  if (reject) return { reject: reject[1] };
  const stream =
    /^<\?xml version="1\.0" encoding="UTF-8"\?><Response><Connect><Stream url="([^"]+)">((?:<Parameter name="[^"]+" value="[^"]*"\/>)*)<\/Stream><\/Connect><\/Response>$/.exec(
      text,
    );
  if (!stream) throw new Error(`not a TwiML answer VCA gives: ${text}`);
  const parameters: Record<string, string> = {};
  for (const match of (stream[2] ?? '').matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)) {
    parameters[decode(match[1] ?? '')] = decode(match[2] ?? '');
  }
  return { stream: { url: decode(stream[1] ?? ''), parameters } };
}
