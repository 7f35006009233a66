// Telnyx's side of a call, as Telnyx sends it: Call Control events (API v2) in the envelope of
// its webhook reference, signed as Telnyx signs them — Ed25519 by the account's private key over
// `${telnyx-timestamp}|${raw body}` (node:crypto, the suite's key pair) — and sent to the Worker.
// The official `telnyx` library checks the same signatures in test/telnyx-signature.test.ts.
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { type ApiResponse, api } from './api.ts';
import { TELNYX_CONNECTION_ID, TELNYX_PRIVATE_KEY_PKCS8 } from './constants.ts';

export const TELNYX_WEBHOOK_PATH = '/webhooks/telnyx/call-control';

/** The base64 signature Telnyx would send for this body at this timestamp. */
export function telnyxSignature(body: string, timestamp: string | number, privateKeyPkcs8 = TELNYX_PRIVATE_KEY_PKCS8): string {
  return ed25519Signature(`${timestamp}|${body}`, privateKeyPkcs8);
}

/** The base64 Ed25519 signature of exactly `message`. */
export function ed25519Signature(message: string, privateKeyPkcs8 = TELNYX_PRIVATE_KEY_PKCS8): string {
  const key = createPrivateKey({ key: Buffer.from(privateKeyPkcs8, 'base64'), format: 'der', type: 'pkcs8' });
  return sign(null, Buffer.from(message), key).toString('base64');
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export interface TelnyxPostOptions {
  /** Sign with this private key (PKCS#8 DER, base64; default the account's). null: send no signature. */
  key?: string | null;
  /** The telnyx-timestamp header (default now). null: send none. */
  timestamp?: number | string | null;
  /** Sign this body, send the event (to alter the body after signing). */
  signedBody?: string;
  /** Send this signature instead of computing one. */
  signature?: string;
  baseUrl?: string;
}

/** POSTs an event (an object, or the exact body text) as Telnyx does. */
export function sendTelnyxEvent(event: unknown, options: TelnyxPostOptions = {}): Promise<ApiResponse> {
  const body = typeof event === 'string' ? event : JSON.stringify(event);
  const timestamp = options.timestamp === undefined ? nowSeconds() : options.timestamp;
  const key = options.key === undefined ? TELNYX_PRIVATE_KEY_PKCS8 : options.key;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'telnyx-webhooks' };
  if (timestamp !== null) headers['telnyx-timestamp'] = String(timestamp);
  if (options.signature !== undefined) headers['telnyx-signature-ed25519'] = options.signature;
  else if (key !== null && timestamp !== null)
    headers['telnyx-signature-ed25519'] = telnyxSignature(options.signedBody ?? body, timestamp, key);
  return api('POST', TELNYX_WEBHOOK_PATH, { token: null, raw: body, headers, baseUrl: options.baseUrl });
}

/** One call as Telnyx identifies it. */
export interface TelnyxCall {
  call_control_id: string;
  call_leg_id: string;
  call_session_id: string;
  to: string;
  from: string;
  start_time: string;
}

export function telnyxCall(to: string, fields: Partial<TelnyxCall> = {}): TelnyxCall {
  const leg = randomUUID();
  return {
    call_control_id: `v3:${Buffer.from(randomUUID()).toString('base64url')}`,
    call_leg_id: leg,
    call_session_id: randomUUID(),
    to,
    from: '+14155550123',
    start_time: new Date().toISOString(),
    ...fields,
  };
}

/** An event of the call in Telnyx's webhook envelope, with a fresh event id unless given. */
export function telnyxEvent(eventType: string, payload: Record<string, unknown>, fields: { id?: string; occurred_at?: string } = {}) {
  return {
    data: {
      record_type: 'event',
      event_type: eventType,
      id: fields.id ?? randomUUID(),
      occurred_at: fields.occurred_at ?? new Date().toISOString(),
      payload: { connection_id: TELNYX_CONNECTION_ID, ...payload },
    },
    meta: { attempt: 1, delivered_to: 'https://vca.test/webhooks/telnyx/call-control' },
  };
}

/** call.initiated for an incoming call, as Telnyx sends it to the number's application. */
export function callInitiated(call: TelnyxCall, fields: Record<string, unknown> = {}) {
  return telnyxEvent('call.initiated', {
    ...call,
    direction: 'incoming',
    state: 'parked',
    caller_id_name: 'Caller',
    connection_codecs: 'G722,PCMU,PCMA,G729,OPUS,VP8,H264',
    offered_codecs: 'PCMU,PCMA',
    ...fields,
  });
}

export function callAnswered(call: TelnyxCall, fields: Record<string, unknown> = {}) {
  return telnyxEvent('call.answered', { ...call, state: 'answered', ...fields });
}

export function callHangup(call: TelnyxCall, hangupCause: string, fields: Record<string, unknown> = {}) {
  return telnyxEvent('call.hangup', {
    ...call,
    state: 'hangup',
    hangup_cause: hangupCause,
    hangup_source: 'caller',
    sip_hangup_cause: 'unspecified',
    ...fields,
  });
}

/**
 * streaming.failed: the media stream of the answer command could not be opened, as Telnyx reports
 * it (developers.telnyx.com/api-reference/callbacks/call-streaming-failed): the call's ids, the
 * answer's client_state, a failure_reason and the stream as it was asked for. No `to`.
 */
export function streamingFailed(
  call: TelnyxCall,
  stream: { streamUrl: string | undefined; clientState?: string },
  fields: Record<string, unknown> = {},
) {
  const { to: _to, from: _from, start_time: _start, ...ids } = call;
  return telnyxEvent('streaming.failed', {
    ...ids,
    ...(stream.clientState === undefined ? {} : { client_state: stream.clientState }),
    failure_reason: 'connection_failed',
    stream_id: randomUUID(),
    stream_params: { ...(stream.streamUrl === undefined ? {} : { stream_url: stream.streamUrl }), track: 'inbound_track' },
    stream_type: 'websocket',
    ...fields,
  });
}
