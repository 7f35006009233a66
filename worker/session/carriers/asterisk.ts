// Asterisk's chan_websocket media protocol (Asterisk ≥ 22.9, JSON control messages: the dialplan
// dials with f(json)), relayed unchanged by the bridge. Binary frames are raw audio in the
// channel's format, μ-law (c(ulaw)); Asterisk cuts what it is sent into 160-byte frames and drops a
// shorter remainder, so audio goes in whole 20 ms frames. Text frames are events from Asterisk
// (`{"event":"MEDIA_START",…}`, `{"event":"DTMF_END","digit":"5",…}`) and commands to it
// (`{"command":"FLUSH_MEDIA"}`, `{"command":"MARK_MEDIA","correlation_id":…}` answered by
// `MEDIA_MARK_PROCESSED` once played, `{"command":"HANGUP"}`). Asterisk sends no hangup event: the caller
// hanging up closes the socket. See asterisk/websocket_client.conf and the README.
import type { CarrierTranslator } from './carrier.ts';

/** 20 ms of 8 kHz μ-law. */
export const FRAME_BYTES = 160;

export function asteriskTranslator(): CarrierTranslator {
  return {
    name: 'asterisk',
    // The bridge's signed upgrade already names the call.
    beginsOnMediaStart: false,
    receive(data) {
      if (typeof data !== 'string') return [{ type: 'audio', ulaw: new Uint8Array(data) }];
      const { command, fields } = parseControl(data);
      if (command === 'MEDIA_START') return [{ type: 'media_start' }];
      if (command === 'DTMF_END' && fields.digit && /^[0-9*#A-D]$/.test(fields.digit)) return [{ type: 'dtmf', digit: fields.digit }];
      // Asterisk's answer to a MARK_MEDIA once the mark reaches the head of its queue: what was before it has played.
      if (command === 'MEDIA_MARK_PROCESSED' && fields.correlation_id) return [{ type: 'mark', name: fields.correlation_id }];
      return [];
    },
    audio(ulaw) {
      const frames: Uint8Array[] = [];
      for (let offset = 0; offset < ulaw.length; offset += FRAME_BYTES) frames.push(ulaw.subarray(offset, offset + FRAME_BYTES));
      return frames;
    },
    mark: (name) => [JSON.stringify({ command: 'MARK_MEDIA', correlation_id: name })],
    clear: () => [JSON.stringify({ command: 'FLUSH_MEDIA' })],
    hangup: () => [JSON.stringify({ command: 'HANGUP' })],
  };
}

/** `MEDIA_START connection_id:… format:ulaw optimal_frame_size:160` → its command and fields; JSON control messages too. */
export function parseControl(text: string): { command: string; fields: Record<string, string> } {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const json = JSON.parse(trimmed) as Record<string, unknown>;
      const command = String(json.event ?? json.command ?? '');
      const fields = Object.fromEntries(Object.entries(json).map(([name, value]) => [name, String(value)]));
      return { command, fields };
    } catch {
      return { command: '', fields: {} };
    }
  }
  const [command = '', ...pairs] = trimmed.split(/\s+/);
  const fields: Record<string, string> = {};
  for (const pair of pairs) {
    const colon = pair.indexOf(':');
    if (colon > 0) fields[pair.slice(0, colon)] = pair.slice(colon + 1);
  }
  return { command, fields };
}
