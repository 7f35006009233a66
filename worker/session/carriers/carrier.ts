// The one frame model every carrier's media protocol is translated to and from (as Pipecat's
// serializers do), so the call session never knows which carrier it serves: a new carrier is one
// more translator beside asterisk.ts, twilio.ts and telnyx.ts.
import type { Settings } from '../../lib/config.ts';
import type { Logger } from '../../lib/log.ts';

/** Who the carrier says a stream belongs to (Twilio's and Telnyx's `start`); the session checks it against its call. */
export interface StreamIdentity {
  /** The carrier's id of the call: must be the call's external_call_id. */
  callId: string | undefined;
  /** The carrier account the stream comes from: must be the one the media route expects. */
  accountId: string | undefined;
  /** The call record id the stream was opened for: must be the session's. */
  callRecordId: string | undefined;
  /** The id the carrier's API commands the call by (Telnyx's call_control_id), if the start names one: must be the media route's. */
  controlId?: string | undefined;
  /** Set when the stream's audio is not 8 kHz μ-law (what it is instead, for the log): the session cannot take it. */
  unsupportedAudio?: string;
}

/** What a translator is given to end a call out of band (through the carrier's API). */
export interface CarrierContext {
  settings: Settings;
  callRecordId: string;
  /** The id the carrier's API commands the call by, as the media route verified it (Telnyx's call_control_id). */
  controlId: string | null;
  log: Logger;
}

/** What the carrier tells the session. Audio is always G.711 μ-law, 8 kHz. */
export type CarrierEvent =
  /** Media begins; `stream` when the carrier names the stream's call (then the session checks it). */
  | { type: 'media_start'; stream?: StreamIdentity }
  | { type: 'audio'; ulaw: Uint8Array }
  | { type: 'dtmf'; digit: string }
  /** A mark the session sent has been played: everything sent before it reached the caller (or was cleared). */
  | { type: 'mark'; name: string }
  /** The caller hung up (or the carrier ended the media). */
  | { type: 'hangup' }
  /** The carrier reports a problem with what it was sent (logged by its code; the call goes on). */
  | { type: 'carrier_error'; code: string };

/** What the session tells the carrier, through the socket the carrier's media arrived on. */
export interface CarrierTranslator {
  readonly name: 'asterisk' | 'twilio' | 'telnyx';
  /**
   * True when nothing can be sent before the carrier's media_start (it names the stream that
   * outgoing messages address): the session begins — greets, records its start — only once that
   * start names this call. False: the session begins with the socket.
   */
  readonly beginsOnMediaStart: boolean;
  /** One message from the carrier's socket → zero or more events. Unknown messages are ignored. */
  receive(data: string | ArrayBuffer): CarrierEvent[];
  /** Agent audio to play, μ-law; the translator frames it as the carrier wants. */
  audio(ulaw: Uint8Array): (string | Uint8Array)[];
  /**
   * A mark after the audio sent so far: the carrier answers with a `mark` event of this name once
   * that audio has played (Asterisk's MARK_MEDIA, Twilio's and Telnyx's `mark`).
   */
  mark(name: string): (string | Uint8Array)[];
  /** Stop playing what was sent and not yet heard (barge-in). */
  clear(): (string | Uint8Array)[];
  /** End the call from our side: the messages to send before the socket is closed. */
  hangup(): (string | Uint8Array)[];
  /**
   * For a carrier whose call outlives its media socket (Telnyx): end the call at the carrier, out
   * of band. Called once when the session ends, for a call the media route or the stream's start
   * proved this session's (the route's control id: even when no start came); the translator
   * knows whether the carrier already ended it. Never throws.
   */
  endCall?(context: CarrierContext): Promise<void>;
}
