// Twilio Media Streams, bidirectional (<Connect><Stream>): JSON text messages both ways. From
// Twilio: `connected`, then `start` (the stream's streamSid, the call's callSid and accountSid,
// the <Parameter>s as customParameters, μ-law 8 kHz), `media` (base64 μ-law of the caller, 20 ms
// each), `dtmf`, `mark` (a mark we sent has been played) and `stop` (the call or stream ended). To
// Twilio: `media` {streamSid, media: {payload}} to play and `clear` to drop what is buffered
// (barge-in), and `mark` {name} after the agent's last words before the session hangs up: Twilio
// echoes it once the audio before it has played (or was cleared), so the goodbye is heard to its
// end. Every outgoing message names the streamSid, so nothing
// goes out before `start`. Closing the socket ends the <Connect>; Twilio then runs the TwiML after it (none:
// the call ends), so hanging up needs no message of its own.
import type { CarrierEvent, CarrierTranslator } from './carrier.ts';
import { callerAudio, keypadDigit, mediaMessages, parseMessage, playedMark, text } from './json-stream.ts';

interface TwilioMessage {
  event?: unknown;
  streamSid?: unknown;
  start?: { streamSid?: unknown; callSid?: unknown; accountSid?: unknown; customParameters?: Record<string, unknown> };
  media?: { track?: unknown; payload?: unknown };
  dtmf?: { digit?: unknown };
  mark?: { name?: unknown };
}

export function twilioTranslator(): CarrierTranslator {
  let streamSid: string | undefined;
  const send = (message: Record<string, unknown>) => (streamSid ? [JSON.stringify({ ...message, streamSid })] : []);
  return {
    name: 'twilio',
    beginsOnMediaStart: true,
    receive(data) {
      if (typeof data !== 'string') return [];
      const message = parseMessage<TwilioMessage>(data);
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
        case 'media':
          // Only the caller's side: a bidirectional stream carries no other track.
          return callerAudio(message.media, ['inbound']);
        case 'dtmf':
          return keypadDigit(message.dtmf);
        case 'mark':
          return playedMark(message.mark);
        case 'stop':
          return [{ type: 'hangup' }];
        default:
          // `connected` says nothing the upgrade did not.
          return [] satisfies CarrierEvent[];
      }
    },
    audio: (ulaw) => (streamSid ? mediaMessages(ulaw, { streamSid }) : []),
    mark: (name) => send({ event: 'mark', mark: { name } }),
    clear: () => send({ event: 'clear' }),
    hangup: () => [],
  };
}
