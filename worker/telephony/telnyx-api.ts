// The Telnyx API v2 as VCA uses it (Bearer TELNYX_API_KEY, JSON): Call Control commands on a live
// call. Telnyx drives calls by webhooks and these commands, so this is VCA's first outbound
// call-control client. Every command carries a command_id: Telnyx ignores a command whose id it
// has already seen for the call, so a retried webhook or a repeated hang-up never acts twice.
import type { TelnyxSettings } from '../lib/config.ts';

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
