// Telnyx media streaming over WebSocket, bidirectional in RTP mode (the answer command asks for
// `stream_track: inbound_track`, `stream_bidirectional_mode: rtp`, `stream_bidirectional_codec:
// PCMU`): JSON text messages both ways, as developers.telnyx.com documents them ("Media Streaming
// over Websockets"; the AsyncAPI "Stream call media over WebSocket"). From Telnyx: `connected`,
// then `start` (top-level `stream_id`; `start.call_control_id`, `call_session_id`, `client_state`
// as given in the answer command, `media_format` {encoding PCMU, sample_rate 8000, channels 1}),
// `media` (`media.payload`: base64 RTP payload, no headers — μ-law; `track`, `chunk`,
// `timestamp`), `dtmf` (`dtmf.digit`), `mark` (a mark we sent was played), `error` (`payload`
// {code, title, detail}: a frame of ours Telnyx could not take) and `stop` (the call ended). To
// Telnyx: `{"event":"media","media":{"payload"}}` (20 ms to 30 s of audio each; the session sends
// 20 ms), `{"event":"clear"}` (drop what is queued: barge-in) and `{"event":"mark","mark":{name}}`
// after the agent's last words before the session hangs up, as for Twilio (Telnyx sends it back
// once they have played, or at once on a clear). No outgoing message names the stream, but
// nothing goes out before a `start` that names this call. Closing this socket does not end a
// Telnyx call — the caller would be left in silence — so ending the call is a Call Control
// `actions/hangup` to the call_control_id the media URL's token vouches for (endCall below): known
// from the upgrade, so a stream whose `start` never comes is hung up too, and a `start` naming
// another call_control_id is not this call's.
import { telnyxSettings } from '../../lib/config.ts';
import { telnyxCallCommand, telnyxHangupCommandId } from '../../telephony/telnyx-api.ts';
import type { CarrierEvent, CarrierTranslator } from './carrier.ts';
import { callerAudio, keypadDigit, mediaMessages, parseMessage, playedMark, text } from './json-stream.ts';

interface TelnyxMessage {
  event?: unknown;
  stream_id?: unknown;
  start?: {
    call_control_id?: unknown;
    call_session_id?: unknown;
    client_state?: unknown;
    media_format?: { encoding?: unknown; sample_rate?: unknown; channels?: unknown };
  };
  media?: { track?: unknown; payload?: unknown };
  dtmf?: { digit?: unknown };
  mark?: { name?: unknown };
  payload?: { code?: unknown };
}

/** What `media_format.encoding` says of μ-law: `PCMU` today, `audio/x-mulaw` in Telnyx's older examples. */
const ULAW = new Set(['PCMU', 'audio/x-mulaw']);

export function telnyxTranslator(): CarrierTranslator {
  let started = false;
  /** Telnyx said the call ended (`stop`): nothing to hang up. */
  let stopped = false;
  let endRequested = false;
  return {
    name: 'telnyx',
    beginsOnMediaStart: true,
    receive(data) {
      if (typeof data !== 'string') return [];
      const message = parseMessage<TelnyxMessage>(data);
      switch (message?.event) {
        case 'start': {
          // One start per stream: a second one cannot re-aim the hang-up at another call.
          if (started) return [];
          started = true;
          const start = message.start ?? {};
          return [
            {
              type: 'media_start',
              stream: {
                callId: text(start.call_session_id),
                // Telnyx's start names no account VCA could compare (user_id is not configured).
                accountId: undefined,
                callRecordId: decodeClientState(start.client_state),
                controlId: text(start.call_control_id),
                unsupportedAudio: unsupportedAudio(start.media_format),
              },
            },
          ];
        }
        case 'media':
          // Only the caller's side (stream_track inbound_track); an outbound track would be our own audio.
          return callerAudio(message.media, ['inbound', 'inbound_track']);
        case 'dtmf':
          return keypadDigit(message.dtmf);
        case 'error': {
          const code = message.payload?.code;
          return [
            { type: 'carrier_error', code: typeof code === 'number' || typeof code === 'string' ? String(code).slice(0, 16) : 'unknown' },
          ];
        }
        case 'mark':
          return playedMark(message.mark);
        case 'stop':
          stopped = true;
          return [{ type: 'hangup' }];
        default:
          // `connected` says nothing the upgrade did not.
          return [] satisfies CarrierEvent[];
      }
    },
    audio: (ulaw) => mediaMessages(ulaw),
    mark: (name) => [JSON.stringify({ event: 'mark', mark: { name } })],
    clear: () => [JSON.stringify({ event: 'clear' })],
    // Nothing on the socket ends a Telnyx call: endCall does, through the API.
    hangup: () => [],
    async endCall({ settings, callRecordId, controlId, log }) {
      // Only the media URL's call_control_id, which its token vouched for: never one a start named.
      if (stopped || endRequested || !controlId) return;
      endRequested = true;
      const telnyx = telnyxSettings(settings);
      if (!telnyx.ok) {
        log.error('[CALL SESSION] cannot hang up the Telnyx call: Telnyx is not configured', { missing: telnyx.missing.join(',') });
        return;
      }
      const result = await telnyxCallCommand(telnyx.telnyx, controlId, 'hangup', {
        command_id: await telnyxHangupCommandId(callRecordId),
      });
      // A call that already ended (the caller hung up meanwhile) needs nothing more.
      if (result.ok || result.reason === 'call_gone') return;
      log.error('[CALL SESSION] the Telnyx hang-up failed', { reason: result.reason, status: result.status, code: result.code });
    },
  };
}

/** client_state as VCA set it in the answer command: base64 of the call record id. */
function decodeClientState(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 200) return undefined;
  try {
    return atob(value);
  } catch {
    return undefined;
  }
}

/** undefined when the stream is 8 kHz mono μ-law (or does not say); otherwise what it is. */
function unsupportedAudio(format: NonNullable<TelnyxMessage['start']>['media_format']): string | undefined {
  if (!format || typeof format !== 'object') return undefined;
  const { encoding, sample_rate: rate, channels } = format;
  const ulaw = encoding === undefined || (typeof encoding === 'string' && ULAW.has(encoding));
  const eightKhz = rate === undefined || Number(rate) === 8000;
  const mono = channels === undefined || Number(channels) === 1;
  return ulaw && eightKhz && mono
    ? undefined
    : `${String(encoding).slice(0, 32)}/${String(rate).slice(0, 8)}/${String(channels).slice(0, 4)}`;
}
