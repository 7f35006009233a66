// The one frame model every carrier's media protocol is translated to and from (as Pipecat's
// serializers do), so the call session never knows which carrier it serves: a new carrier is one
// more translator beside asterisk.ts.

/** What the carrier tells the session. Audio is always G.711 μ-law, 8 kHz. */
export type CarrierEvent =
  | { type: 'media_start' }
  | { type: 'audio'; ulaw: Uint8Array }
  | { type: 'dtmf'; digit: string }
  /** The caller hung up (or the carrier ended the media). */
  | { type: 'hangup' };

/** What the session tells the carrier, through the socket the carrier's media arrived on. */
export interface CarrierTranslator {
  readonly name: 'asterisk' | 'twilio' | 'telnyx';
  /** One message from the carrier's socket → zero or more events. Unknown messages are ignored. */
  receive(data: string | ArrayBuffer): CarrierEvent[];
  /** Agent audio to play, μ-law; the translator frames it as the carrier wants. */
  audio(ulaw: Uint8Array): (string | Uint8Array)[];
  /** Stop playing what was sent and not yet heard (barge-in). */
  clear(): (string | Uint8Array)[];
  /** End the call from our side. */
  hangup(): (string | Uint8Array)[];
}
