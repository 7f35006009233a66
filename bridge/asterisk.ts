// What the dialplan (asterisk/extensions.conf) sends, and how it maps onto the ingest contract.
// The field names here are the contract with Asterisk; test/bridge/dialplan.test.ts proves the
// dialplan sends exactly these.
import { z } from 'zod';
import { CallEndedPayload, InboundCallPayload } from '../contract/ingest.ts';

/** POST /inbound: CALLERID(num), EXTEN, UNIQUEID, EPOCH — the contract's inbound payload as is. */
export const INBOUND_FIELDS = ['caller_number', 'called_number', 'call_id', 'timestamp'] as const;

/** POST /call-ended, from the hangup handler: CDR(duration), CDR(billsec), HANGUPCAUSE, EPOCH. */
export const CALL_ENDED_FIELDS = ['call_id', 'called_number', 'caller_number', 'duration', 'billsec', 'hangup_cause', 'timestamp'] as const;

const value = z.union([z.string().max(256), z.number()]);

const AsteriskCallEnded = z.strictObject({
  call_id: value,
  called_number: value,
  // Not forwarded, so never a reason to lose the event.
  caller_number: z.unknown().optional(),
  duration: value.optional(),
  billsec: value.optional(),
  hangup_cause: value,
  timestamp: value,
});

/** Caller ids longer than the Worker stores are cut, not refused: a real call must not fail on it. */
const CALLER_NUMBER_MAX = 64;

export function parseInbound(fields: Record<string, unknown>) {
  const caller = fields.caller_number;
  const trimmed =
    typeof caller === 'string' && caller.length > CALLER_NUMBER_MAX
      ? { ...fields, caller_number: caller.slice(0, CALLER_NUMBER_MAX) }
      : fields;
  return InboundCallPayload.safeParse(trimmed);
}

/**
 * Asterisk's hangup fields → the Worker's call-ended payload: talk time is `billsec` (`duration`
 * when billsec is absent), `timestamp` is when the call ended. caller_number is accepted (the
 * dialplan sends it for symmetry) but not forwarded.
 */
export function parseCallEnded(fields: Record<string, unknown>) {
  const asterisk = AsteriskCallEnded.safeParse(fields);
  if (!asterisk.success) return asterisk;
  const { billsec, duration } = asterisk.data;
  return CallEndedPayload.safeParse({
    call_id: asterisk.data.call_id,
    called_number: asterisk.data.called_number,
    ended_at: asterisk.data.timestamp,
    duration_seconds: billsec === undefined || billsec === '' ? duration : billsec,
    hangup_cause: asterisk.data.hangup_cause,
  });
}
