// What Twilio's Media Streams and Telnyx's media streaming share: Telnyx modelled its WebSocket
// on Twilio's, so both speak JSON text messages named by `event`, carry the caller's audio as
// base64 μ-law in `media.payload` (with a `media.track`), keypad digits in `dtmf.digit`, take
// the agent's audio back as `media` messages, and send a `mark` {name} back once what came before
// it has played. Each carrier's translator keeps what differs (its `start`, how it ends a call,
// the fields it adds to what it sends).
import { fromBase64, toBase64 } from '../../../contract/base64.ts';
import { FRAME_BYTES } from './asterisk.ts';
import type { CarrierEvent } from './carrier.ts';

/** A text message's JSON object, or undefined for anything else. */
export function parseMessage<T extends object>(data: string): T | undefined {
  try {
    const message = JSON.parse(data) as unknown;
    return message && typeof message === 'object' ? (message as T) : undefined;
  } catch {
    return undefined;
  }
}

export const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * A `media` message's audio, when it is the caller's: its track is one of `callerTracks` or
 * unnamed. Another track (our own audio) or a payload that is not base64 is nothing.
 */
export function callerAudio(media: { track?: unknown; payload?: unknown } | undefined, callerTracks: readonly string[]): CarrierEvent[] {
  const payload = text(media?.payload);
  const track = media?.track;
  if (!payload || (track !== undefined && !callerTracks.includes(String(track)))) return [];
  try {
    return [{ type: 'audio', ulaw: fromBase64(payload) }];
  } catch {
    return [];
  }
}

/** A `dtmf` message's digit, when it is a keypad digit. */
export function keypadDigit(dtmf: { digit?: unknown } | undefined): CarrierEvent[] {
  const digit = text(dtmf?.digit);
  return digit && /^[0-9*#A-D]$/.test(digit) ? [{ type: 'dtmf', digit }] : [];
}

/** A `mark` message's name: one of ours has been played. */
export function playedMark(mark: { name?: unknown } | undefined): CarrierEvent[] {
  const name = text(mark?.name);
  return name ? [{ type: 'mark', name }] : [];
}

/** The agent's audio as `media` messages of one 20 ms frame each, `extra` fields beside `media`. */
export function mediaMessages(ulaw: Uint8Array, extra: Record<string, unknown> = {}): string[] {
  const messages: string[] = [];
  for (let offset = 0; offset < ulaw.length; offset += FRAME_BYTES) {
    messages.push(JSON.stringify({ event: 'media', ...extra, media: { payload: toBase64(ulaw.subarray(offset, offset + FRAME_BYTES)) } }));
  }
  return messages;
}
