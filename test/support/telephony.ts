// Signed requests to /internal/telephony/*, as the bridge sends them.
import { randomUUID } from 'node:crypto';
import { webhookHeaders } from '../../contract/signing.ts';
import { type ApiResponse, api } from './api.ts';
import { SIGNING_SECRETS } from './constants.ts';

export interface SignOptions {
  secret?: string;
  id?: string;
  timestamp?: number;
  /** Headers to add or override after signing (to tamper with them). */
  headers?: Record<string, string>;
  /** Send this text instead of the signed body (to tamper with the body). */
  sendBody?: string;
  /** Another Worker than the suite's. */
  baseUrl?: string;
}

export async function signedPost(
  path:
    | '/internal/telephony/inbound'
    | '/internal/telephony/inbound/batch'
    | '/internal/telephony/call-ended'
    | '/internal/telephony/call-ended/batch',
  payload: unknown,
  options: SignOptions = {},
) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const headers = await webhookHeaders(options.secret ?? SIGNING_SECRETS[1], body, options.id, options.timestamp);
  return api('POST', path, {
    token: null,
    raw: options.sendBody ?? body,
    headers: { 'content-type': 'application/json', ...headers, ...options.headers },
    baseUrl: options.baseUrl,
  });
}

/** A signed GET, as the bridge syncs its routes: Standard Webhooks over the empty body. */
export async function signedGet(pathAndQuery: string, options: Omit<SignOptions, 'sendBody'> = {}) {
  const headers = await webhookHeaders(options.secret ?? SIGNING_SECRETS[1], '', options.id, options.timestamp);
  return api('GET', pathAndQuery, { token: null, headers: { ...headers, ...options.headers }, baseUrl: options.baseUrl });
}

export function inboundPayload(calledNumber: string, fields: Record<string, unknown> = {}) {
  return {
    caller_number: '+14155550123',
    called_number: calledNumber,
    call_id: `${Math.floor(Date.now() / 1000)}.${randomUUID().slice(0, 8)}`,
    timestamp: String(Math.floor(Date.now() / 1000)),
    ...fields,
  };
}

export function sendInbound(calledNumber: string, fields: Record<string, unknown> = {}, options?: SignOptions): Promise<ApiResponse> {
  return signedPost('/internal/telephony/inbound', inboundPayload(calledNumber, fields), options);
}

export function sendCallEnded(
  callId: string,
  calledNumber: string,
  fields: Record<string, unknown> = {},
  options?: SignOptions,
): Promise<ApiResponse> {
  return signedPost('/internal/telephony/call-ended', callEndedPayload(callId, calledNumber, fields), options);
}

/** A call-ended event as the bridge forwards it: 42 s of talk time, normal clearing, ended now. */
export function callEndedPayload(callId: string, calledNumber: string, fields: Record<string, unknown> = {}) {
  return {
    call_id: callId,
    called_number: calledNumber,
    ended_at: String(Math.floor(Date.now() / 1000)),
    duration_seconds: '42',
    hangup_cause: '16',
    ...fields,
  };
}
