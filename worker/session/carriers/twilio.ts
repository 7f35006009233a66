// Twilio Media Streams, bidirectional (<Connect><Stream>): JSON text messages both ways. From
// Twilio: `connected`, then `start` (the stream's streamSid, the call's callSid and accountSid,
// the <Parameter>s as customParameters, μ-law 8 kHz), `media` (base64 μ-law of the caller, 20 ms
// each), `dtmf`, `mark` (a mark we sent has been played) and `stop` (the call or stream ended). To
// Twilio: `media` {streamSid, media: {payload}} to play and `clear` to drop what is buffered
// (barge-in); no `mark`, because the session paces playback itself (300 ms ahead) and so knows
// what was heard without Twilio's echo. Every outgoing message names the streamSid, so nothing
// goes out before `start`. Closing the socket ends the <Connect>; Twilio then runs the TwiML after it (none:
// the call ends), so hanging up needs no message of its own.
import { fromBase64, toBase64 } from '../realtime.ts';
import { FRAME_BYTES } from './asterisk.ts';
import type { CarrierEvent, CarrierTranslator } from './carrier.ts';

interface TwilioMessage {
  event?: unknown;
  streamSid?: unknown;
  start?: { streamSid?: unknown; callSid?: unknown; accountSid?: unknown; customParameters?: Record<string, unknown> };
  media?: { track?: unknown; payload?: unknown };
  dtmf?: { digit?: unknown };
}

export function twilioTranslator(): CarrierTranslator {
  let streamSid: string | undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const send = (message: Record<string, unknown>) => (streamSid ? [JSON.stringify({ ...message, streamSid })] : []);
  return {
    name: 'twilio',
    beginsOnMediaStart: true,
    receive(data) {
      if (typeof data !== 'string') return [];
      const message = parse(data);
      switch (message?.event) {
        case 'start': {
          const start = message.start ?? {};
          streamSid = text(start.streamSid) ?? text(message.streamSid);
          return [
            {
              type: 'media_start',
              stream: {
                callId: text(start.callSid),
                accountId: text(start.accountSid),
                callRecordId: text(start.customParameters?.call_record_id),
              },
            },
          ];
        }
        case 'media': {
          const payload = text(message.media?.payload);
          // Only the caller's side: a bidirectional stream carries no other track.
          if (!payload || (message.media?.track !== undefined && message.media.track !== 'inbound')) return [];
          try {
            return [{ type: 'audio', ulaw: fromBase64(payload) }];
          } catch {
            return [];
          }
        }
        case 'dtmf': {
          const digit = text(message.dtmf?.digit);
          return digit && /^[0-9*#A-D]$/.test(digit) ? [{ type: 'dtmf', digit }] : [];
        }
        case 'stop':
          return [{ type: 'hangup' }];
        default:
          // `connected` says nothing the upgrade did not; `mark` only echoes marks, which we never send.
          return [] satisfies CarrierEvent[];
      }
    },
    audio(ulaw) {
      const messages: string[] = [];
      for (let offset = 0; offset < ulaw.length; offset += FRAME_BYTES) {
        messages.push(...send({ event: 'media', media: { payload: toBase64(ulaw.subarray(offset, offset + FRAME_BYTES)) } }));
      }
      return messages;
    },
    clear: () => send({ event: 'clear' }),
    hangup: () => [],
  };
}

function parse(data: string): TwilioMessage | undefined {
  try {
    const message = JSON.parse(data) as unknown;
    return message && typeof message === 'object' ? (message as TwilioMessage) : undefined;
  } catch {
    return undefined;
  }
}
