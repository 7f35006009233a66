// The one frame model every carrier's media protocol is translated to and from (as Pipecat's
// serializers do), so the call session never knows which carrier it serves: a new carrier is one
// more translator beside asterisk.ts and twilio.ts.

/** Who the carrier says a stream belongs to (Twilio's `start`); the session checks it against its call. */
export interface StreamIdentity {
  /** The carrier's id of the call: must be the call's external_call_id. */
  callId: string | undefined;
  /** The carrier account the stream comes from: must be the one the media route expects. */
  accountId: string | undefined;
  /** The call record id the stream was opened for: must be the session's. */
  callRecordId: string | undefined;
}

/** What the carrier tells the session. Audio is always G.711 μ-law, 8 kHz. */
export type CarrierEvent =
  /** Media begins; `stream` when the carrier names the stream's call (then the session checks it). */
  | { type: 'media_start'; stream?: StreamIdentity }
  | { type: 'audio'; ulaw: Uint8Array }
  | { type: 'dtmf'; digit: string }
  /** The caller hung up (or the carrier ended the media). */
  | { type: 'hangup' };

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
  /** Stop playing what was sent and not yet heard (barge-in). */
  clear(): (string | Uint8Array)[];
  /** End the call from our side. */
  hangup(): (string | Uint8Array)[];
}
