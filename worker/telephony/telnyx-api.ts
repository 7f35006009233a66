// The Telnyx API v2 as VCA uses it (Bearer TELNYX_API_KEY, JSON): Call Control commands on a live
// call, and the number API that assigns a number to VCA's Call Control application. Telnyx drives
// calls by webhooks and these commands, so this is VCA's first outbound call-control client.
// Every command carries a command_id: Telnyx ignores a command whose id it has already seen for
// the call (within 60 s, its "Receiving webhooks" guide), so a retried webhook or a repeated
// hang-up never acts twice.
import type { TelnyxSettings } from '../lib/config.ts';

/**
 * What a Telnyx call_control_id is made of: `v3:` (or `v2:`) and base64url today, a UUID in older
 * accounts (developers.telnyx.com's examples: `v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg`).
 * It is a capability as much as an id (with the API key it commands the call), so it is never logged.
 */
export const TELNYX_CALL_CONTROL_ID = /^[\w:.=+/-]{1,256}$/;

/** Each request to Telnyx's API must answer within this, or it counts as unreachable. */
export const TELNYX_API_TIMEOUT_MS = 5_000;

export type TelnyxCallAction = 'answer' | 'reject' | 'hangup';

export type TelnyxCommandResult =
  | { ok: true }
  /** 404, or 422 with one of Telnyx's "call has already ended" codes: the call is gone, nothing to do. */
  | { ok: false; reason: 'call_gone'; status: number; code: string | null }
  | { ok: false; reason: 'refused'; status: number; code: string | null }
  | { ok: false; reason: 'unreachable'; status: number | null; code: null };

/** Telnyx's error codes for a command on a call that has ended (Call Control's 90018, 90053, 90055). */
const CALL_GONE_CODES = new Set(['90018', '90053', '90055']);

/** POST /v2/calls/{call_control_id}/actions/{action}: ok, or why not (never throws). */
export async function telnyxCallCommand(
  telnyx: Pick<TelnyxSettings, 'apiKey' | 'apiBaseUrl'>,
  callControlId: string,
  action: TelnyxCallAction,
  body: Record<string, unknown> & { command_id: string },
): Promise<TelnyxCommandResult> {
  let response: Response;
  try {
    response = await fetch(`${telnyx.apiBaseUrl}/v2/calls/${encodeURIComponent(callControlId)}/actions/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${telnyx.apiKey}`, accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TELNYX_API_TIMEOUT_MS),
    });
  } catch {
    return { ok: false, reason: 'unreachable', status: null, code: null };
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return { ok: true };
  if (response.status >= 500) return { ok: false, reason: 'unreachable', status: response.status, code: null };
  const code = errorCode(text);
  const gone = response.status === 404 || (response.status === 422 && code !== null && CALL_GONE_CODES.has(code));
  return { ok: false, reason: gone ? 'call_gone' : 'refused', status: response.status, code };
}

/**
 * The command_id of VCA's hang-up of a call: derived from the call record alone (a UUID from
 * SHA-256 of it), so every hang-up VCA sends the call — the session's, the webhook's when the
 * stream never came, a retry of either — is one command at Telnyx, and distinct from any other
 * command VCA sends the call.
 */
export async function telnyxHangupCommandId(callRecordId: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`vca session hangup|${callRecordId}`)));
  const bytes = digest.slice(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x80; // version 8: custom
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80; // RFC 9562 variant
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The first error's code of Telnyx's error body ({errors: [{code, title, detail}]}), if any. */
export function errorCode(text: string): string | null {
  try {
    const body = JSON.parse(text) as { errors?: { code?: unknown }[] };
    const code = body.errors?.[0]?.code;
    return typeof code === 'string' || typeof code === 'number' ? String(code) : null;
  } catch {
    return null;
  }
}

// ---- The number API: a number of the account, and the connection its calls go to ----
// GET /v2/phone_numbers?filter[phone_number]=… and PATCH /v2/phone_numbers/{id}
// (https://developers.telnyx.com/api-reference/phone-number-configurations/list-phone-numbers and
// …/update-a-phone-number). A number's `connection_id` is the Call Control application (formerly
// "connection") whose webhook URL Telnyx calls for the number's calls.

/** A number of the account, as Telnyx describes it (the fields VCA reads). */
export interface TelnyxPhoneNumber {
  id: string;
  /** E.164. */
  phone_number: string;
  /** The Call Control application it is assigned to; null or empty: none. */
  connection_id: string | null;
}

export type TelnyxRequestFailure =
  | { ok: false; reason: 'refused'; status: number; code: string | null }
  | { ok: false; reason: 'unreachable'; status: number | null; timedOut: boolean };

/**
 * The account's number with exactly this E.164 form, or null when the account has none. Telnyx's
 * filter wants digits only ("non-numerical characters will result in no values being returned")
 * and matches numbers that contain them, so the answer is narrowed to the exact number here.
 */
export async function findTelnyxNumber(
  telnyx: Pick<TelnyxSettings, 'apiKey' | 'apiBaseUrl'>,
  e164: string,
): Promise<{ ok: true; number: TelnyxPhoneNumber | null } | TelnyxRequestFailure> {
  const query = new URLSearchParams({ 'filter[phone_number]': e164.replace(/\D/g, '') });
  const answer = await telnyxRequest(telnyx, 'GET', `/v2/phone_numbers?${query}`);
  if (!answer.ok) return answer;
  const numbers = Array.isArray(answer.body.data) ? (answer.body.data as unknown[]) : [];
  const number = numbers.map(phoneNumber).find((candidate) => candidate?.phone_number === e164) ?? null;
  return { ok: true, number };
}

/** Assigns the number to a Call Control application (connectionId), or to none (null). */
export async function setTelnyxNumberConnection(
  telnyx: Pick<TelnyxSettings, 'apiKey' | 'apiBaseUrl'>,
  numberId: string,
  connectionId: string | null,
): Promise<{ ok: true } | TelnyxRequestFailure> {
  const answer = await telnyxRequest(telnyx, 'PATCH', `/v2/phone_numbers/${encodeURIComponent(numberId)}`, {
    connection_id: connectionId,
  });
  return answer.ok ? { ok: true } : answer;
}

async function telnyxRequest(
  telnyx: Pick<TelnyxSettings, 'apiKey' | 'apiBaseUrl'>,
  method: 'GET' | 'PATCH',
  path: string,
  body?: Record<string, unknown>,
): Promise<{ ok: true; body: Record<string, unknown> } | TelnyxRequestFailure> {
  let response: Response;
  try {
    response = await fetch(`${telnyx.apiBaseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${telnyx.apiKey}`,
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(TELNYX_API_TIMEOUT_MS),
    });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return { ok: false, reason: 'unreachable', status: null, timedOut };
  }
  const text = await response.text().catch(() => '');
  if (response.status >= 500) return { ok: false, reason: 'unreachable', status: response.status, timedOut: false };
  if (!response.ok) return { ok: false, reason: 'refused', status: response.status, code: errorCode(text) };
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return { ok: true, body: parsed as Record<string, unknown> };
  } catch {}
  return { ok: false, reason: 'unreachable', status: response.status, timedOut: false };
}

function phoneNumber(value: unknown): TelnyxPhoneNumber | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { id, phone_number, connection_id } = value as Record<string, unknown>;
  if ((typeof id !== 'string' && typeof id !== 'number') || typeof phone_number !== 'string') return undefined;
  return {
    id: String(id),
    phone_number,
    connection_id: typeof connection_id === 'string' && connection_id !== '' ? connection_id : null,
  };
}
