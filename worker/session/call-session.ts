// The AI conversation of one call: a Durable Object named by the call record id. It takes the
// carrier's media socket (Asterisk through the bridge, Twilio Media Streams or Telnyx media
// streaming; one translator per carrier, named by the media route), opens one WebSocket to the
// realtime model, and relays between them: the agent greets first, the caller can interrupt it
// (flush at the carrier, cancel, truncate at what was heard), keypad digits reach the model as
// text, the model can hang up with its end_call tool, and the profile's time limit holds.
// The transcript is kept in the object's own storage as it grows (an eviction loses nothing) and
// written to Postgres, with a summary asked of the model, when the call ends — through withTenant,
// for the tenant the signed route named. A bridge call may start before its row has arrived (the
// signed route is enough to start); then the session's start and end wait in storage and the
// object's alarm writes them once the row exists (RECORD_RETRY_*). Nothing the caller or the agent
// says is logged.
import { DurableObject } from 'cloudflare:workers';
import { fromBase64 } from '../../contract/base64.ts';
import { loadConfig, type Settings } from '../lib/config.ts';
import { openDatabase } from '../lib/db.ts';
import type { Bindings } from '../lib/env.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { asteriskTranslator, FRAME_BYTES } from './carriers/asterisk.ts';
import type { CarrierEvent, CarrierTranslator, StreamIdentity } from './carriers/carrier.ts';
import { telnyxTranslator } from './carriers/telnyx.ts';
import { twilioTranslator } from './carriers/twilio.ts';
import { connectRealtime, END_CALL_TOOL, errorCode, type RealtimeConnection, RealtimeUnavailable, type ServerEvent } from './realtime.ts';
import {
  loadSessionContext,
  recordSessionEnded,
  recordSessionStarted,
  type SessionEndReason,
  type SessionProfile,
  type SignedRoute,
  type TranscriptTurn,
} from './records.ts';

/**
 * The model must be connected and configured within this, or the call is refused. The caller's
 * whole wait is bounded at the PBX: Dial() gives the hand-off 3 s, the bridge 2.5 s
 * (BRIDGE_MEDIA_START_MS); the model gets 2 s of that, so a refusal here reaches the PBX in time
 * to be the reason the call ends (cause 41), not a hang-up that crossed it.
 */
export const SESSION_START_DEADLINE_MS = 2_000;
/** How far ahead of the caller's ear agent audio is sent: enough to ride out jitter, little to flush. */
const PLAYBACK_LEAD_MS = 300;
const FRAME_MS = 20;
/** After the goodbye of the time limit, hang up at the latest after this. */
const GOODBYE_CAP_MS = 8_000;
/** How long past the session's own playout clock a carrier has to echo the mark after the last words. */
const MARK_GRACE_MS = 1_500;
/** How long the end of the call waits for the model's summary. */
const SUMMARY_DEADLINE_MS = 5_000;
/** If the object is evicted mid-call, its alarm writes what storage kept this long after the limit. */
const BACKSTOP_GRACE_MS = 120_000;
/**
 * Records that cannot be written yet (the call's row has not arrived from the bridge's spool, or
 * the database failed) are tried again by the object's alarm: after 1 s, doubling up to once a
 * minute, from the session's start and again from its end, for 24 hours after the start. Then
 * they are dropped, loudly (an error log line; the transcript and summary are erased from storage).
 */
export const RECORD_RETRY_FIRST_MS = 1_000;
export const RECORD_RETRY_MAX_MS = 60_000;
export const RECORD_WAIT_MAX_MS = 24 * 60 * 60 * 1000;
/** Agent audio waiting to be sent is capped (10 minutes of it); beyond, the call is in trouble anyway. */
const MAX_QUEUED_BYTES = 8_000 * 600;
/**
 * The model's server VAD ends a caller's turn on silence it hears: `speech_stopped`'s
 * `audio_end_ms` "will correspond to the end of audio sent to the model, and thus includes the
 * `min_silence_duration_ms`" (openai-python, types/realtime/input_audio_buffer_speech_stopped_event.py).
 * A carrier that stops sending when the caller goes quiet would leave the turn open and the agent
 * mute. Asterisk does: chan_websocket writes only the frames the core hands it and skips comfort
 * noise (a trunk with silence suppression, a Local channel waiting), as a real Asterisk 22.10 call
 * showed. So once the caller's audio stops for CALLER_GAP_MS, the session sends the model silence
 * for the time that passed, up to CALLER_GAP_FILL_MS (twice the VAD's 500 ms default): enough to
 * end the turn, not a stream of silence for a caller who says nothing for minutes.
 */
const CALLER_GAP_MS = 200;
const CALLER_GAP_FILL_MS = 1_000;
/** μ-law silence: 0xff encodes 0. */
const ULAW_SILENCE = 0xff;

/**
 * A carrier that names its stream in its first messages (Twilio's and Telnyx's `start`) must have
 * done so within this; otherwise the stream is closed, the session's end is recorded as `error`
 * (never started), and a call the media route named the control id of (Telnyx) is hung up.
 */
const MEDIA_START_DEADLINE_MS = 5_000;

/**
 * The headers a media route hands over after verifying its carrier's signature: the call, its
 * tenant, which carrier's protocol the socket speaks, (optional) the carrier account the stream's
 * start must name, (optional, Telnyx's) the id the carrier's API commands the call by, which the
 * media URL's token vouched for, and (optional, the bridge's) the signed route: phone number, AI
 * profile (empty: none) and the carrier's call id, with which the session starts without the call's row.
 */
export const SESSION_HEADERS = {
  tenant: 'x-vca-tenant-id',
  call: 'x-vca-call-id',
  carrier: 'x-vca-carrier',
  account: 'x-vca-carrier-account',
  controlId: 'x-vca-carrier-control-id',
  phoneNumber: 'x-vca-phone-number-id',
  aiProfile: 'x-vca-ai-profile-id',
  externalCall: 'x-vca-external-call-id',
} as const;

const TRANSLATORS: Record<string, () => CarrierTranslator> = {
  asterisk: asteriskTranslator,
  twilio: twilioTranslator,
  telnyx: telnyxTranslator,
};

/** The session as its storage keeps it: everything its records need, until they are written. */
interface StoredSession {
  tenantId: string;
  callId: string;
  startedAt: number;
  turns: TranscriptTurn[];
  /** The start is still to be written (session_started_at, answered_at). Absent: nothing to write. */
  startPending?: boolean;
  /** How the session ended, once it has; written (with the transcript) after the start. */
  end?: { at: number; reason: SessionEndReason; summary: string | null };
  /** The end is written (or was dropped): nothing is left to do. */
  ended: boolean;
  /** Past this, a session still open was lost (evicted mid-call): its end is written as `error`. */
  backstopAt?: number;
  /** Retries of a write the database did not take (no row yet, or unreachable); counted again from the end. */
  retry?: { attempt: number };
  /** Since when the records have waited for the call's row (ms), if they have. */
  waitingSince?: number;
}

interface AgentItem {
  id: string;
  text: string;
  /** When the caller starts hearing it (the playback clock), ms since the epoch; null until audio arrives. */
  playsFrom: number | null;
  audioMs: number;
  /** Its response completed (not cancelled): audioMs is its whole length. */
  audioDone: boolean;
  offsetMs: number;
  truncated: boolean;
}

/** Speech runs at about 15 characters a second: a turn's length before all its audio has arrived. */
const SPOKEN_MS_PER_CHARACTER = 65;

export class CallSession extends DurableObject<Bindings> {
  #log: Logger = createLogger({ component: 'call-session' });
  #stored: StoredSession | undefined;
  #profile: SessionProfile | undefined;
  /** What the carrier's stream must name (StreamIdentity) before the session begins. */
  #call: { tenantId: string; callId: string; externalCallId: string; account: string | null; controlId: string | null } | undefined;
  #settings: Settings | undefined;
  #carrier: WebSocket | undefined;
  #translator: CarrierTranslator | undefined;
  /**
   * The call may be ended at the carrier: the media route named its control id (Telnyx: the
   * token signs it), or the stream's start named this call. Never for a call only a stream said it was.
   */
  #endableAtCarrier = false;
  #model: RealtimeConnection | undefined;
  #ending: Promise<void> | undefined;
  /** The records' writes, one after another (#writeRecords). */
  #writing: Promise<void> = Promise.resolve();
  #timers = new Set<ReturnType<typeof setTimeout>>();
  // Playback toward the caller.
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #playedUntil = 0;
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  #pendingAudio = new Uint8Array(0);
  // The conversation.
  #items = new Map<string, AgentItem>();
  #playingItem: string | undefined;
  #responseActive = false;
  #callerTurnStarts = new Map<string, number>();
  #hangupAfterPlayback: SessionEndReason | undefined;
  /** The mark sent after the agent's last words: its echo ends the call (#checkHangup). */
  #endMark: string | undefined;
  #marksSent = 0;
  /** The carrier echoed #endMark: every frame sent has been played. */
  #allHeard = false;
  #hangupTimer: ReturnType<typeof setTimeout> | undefined;
  /** The time limit came while the agent was speaking: its goodbye follows that response. */
  #goodbyeAfterResponse = false;
  #summary: { resolve: (text: string | null) => void; text: string } | undefined;
  #framesIn = 0;
  #framesOut = 0;
  // The caller's side as the model hears it: when the carrier's audio last came, and the silence sent since.
  #callerAudioAt = 0;
  #callerGapFilledMs = 0;
  #callerGapTimer: ReturnType<typeof setTimeout> | undefined;
  #framesFilled = 0;

  override async fetch(request: Request): Promise<Response> {
    const tenantId = request.headers.get(SESSION_HEADERS.tenant) ?? '';
    const callId = request.headers.get(SESSION_HEADERS.call) ?? '';
    this.#log = createLogger({ component: 'call-session', call_record_id: callId, tenant_id: tenantId });
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket')
      return refusal(426, 'upgrade_required', 'Expected a WebSocket upgrade.');
    const carrierName = request.headers.get(SESSION_HEADERS.carrier) ?? '';
    const translator = Object.hasOwn(TRANSLATORS, carrierName) ? TRANSLATORS[carrierName]?.() : undefined;
    if (!translator) return refusal(400, 'unknown_carrier', 'The media route named no carrier this session speaks.');
    if (this.#carrier || (await this.ctx.storage.get<StoredSession>('session'))) {
      // One media stream per call: a replayed or second upgrade gets nothing.
      return refusal(409, 'session_exists', 'This call already has a session.');
    }
    const config = loadConfig(this.env as unknown as Record<string, unknown>);
    if (!config.ok) return refusal(503, 'service_misconfigured', 'The service is misconfigured.');
    const settings = config.settings;
    this.#settings = settings;
    // From here on a refusal would leave a carrier whose call outlives its stream (Telnyx) in
    // silence: such a call, named by its verified control id, is hung up as it is refused.
    const controlId = request.headers.get(SESSION_HEADERS.controlId);
    const refuse = (status: number, code: string, detail: string) => {
      if (controlId !== null && translator.endCall) {
        this.ctx.waitUntil(translator.endCall({ settings, callRecordId: callId, controlId, log: this.#log }).catch(() => {}));
      }
      return refusal(status, code, detail);
    };

    const database = openDatabase(settings);
    let context: Awaited<ReturnType<typeof loadSessionContext>>;
    try {
      context = await loadSessionContext(database.db, tenantId, callId, signedRoute(request.headers));
    } catch {
      this.#log.warn('[CALL SESSION] refused: database unavailable');
      return refuse(503, 'database_unavailable', 'The database is unreachable.');
    } finally {
      this.ctx.waitUntil(database.close().catch(() => {}));
    }
    if (!context.ok) {
      this.#log.warn('[CALL SESSION] refused', { reason: context.reason });
      const status = context.reason === 'unknown_call' ? 404 : context.reason === 'tenant_inactive' ? 403 : 409;
      return refuse(status, context.reason, 'No session for this call.');
    }
    if (!context.recorded) this.#log.info('[CALL SESSION] starting from the signed route: the call record has not arrived yet');
    this.#profile = context.profile;
    this.#call = {
      tenantId,
      callId,
      externalCallId: context.externalCallId,
      account: request.headers.get(SESSION_HEADERS.account),
      controlId,
    };

    // The model first: a call the agent cannot take is refused before it is answered with silence.
    if (!settings.REALTIME_API_KEY) {
      await this.#recordRefused(tenantId, callId, 'model_unavailable');
      this.#log.error('[CALL SESSION] refused: REALTIME_API_KEY is not set', { reason: 'model_unavailable' });
      return refuse(503, 'model_unavailable', 'The voice model is not configured.');
    }
    try {
      this.#model = await connectRealtime(
        {
          url: settings.REALTIME_URL,
          model: settings.REALTIME_MODEL,
          apiKey: settings.REALTIME_API_KEY,
          deadlineMs: SESSION_START_DEADLINE_MS,
        },
        { instructions: instructionsFor(context.profile), voice: context.profile.voice, language: context.profile.language },
        (event) => this.#onModelEvent(event),
        (code) => this.#onModelClosed(code),
      );
    } catch (error) {
      const reason = error instanceof RealtimeUnavailable ? error.message : 'unexpected error';
      await this.#recordRefused(tenantId, callId, 'model_unavailable');
      this.#log.error('[CALL SESSION] refused: the model is unavailable', { reason: 'model_unavailable', detail: reason });
      return refuse(503, 'model_unavailable', 'The voice model is unavailable.');
    }

    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    server.accept();
    // Binary frames as ArrayBuffer (workerd's default may be Blob, which would need an await per frame).
    server.binaryType = 'arraybuffer';
    this.#carrier = server;
    this.#translator = translator;
    // From here on the socket is open: a call whose control id the route vouched for is hung up however this ends.
    this.#endableAtCarrier = controlId !== null;
    server.addEventListener('message', (message) => {
      for (const event of this.#translator?.receive(message.data as string | ArrayBuffer) ?? []) this.#onCarrierEvent(event);
    });
    server.addEventListener('close', () => void this.#end('caller_hung_up'));
    server.addEventListener('error', () => void this.#end('caller_hung_up'));

    if (translator.beginsOnMediaStart) {
      // The carrier names the stream's call in its first message; without it, nothing begins.
      this.#later(MEDIA_START_DEADLINE_MS, () => {
        if (this.#stored || this.#ending) return;
        // The stream is the call's (its upgrade was verified) but never said so: the call's record says why it ended.
        this.#refuseStream('no start message');
        this.ctx.waitUntil(this.#recordRefused(tenantId, callId, 'error'));
      });
    } else {
      await this.#begin();
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  /** The call's session begins: its record, the time limit, and the agent's greeting first. */
  async #begin(): Promise<void> {
    const call = this.#call;
    const profile = this.#profile;
    if (!call || !profile || this.#stored || this.#ending) return;
    const { tenantId, callId } = call;
    this.#endableAtCarrier = true;
    const startedAt = Date.now();
    const backstopAt = startedAt + profile.maxDurationSeconds * 1000 + BACKSTOP_GRACE_MS;
    this.#stored = { tenantId, callId, startedAt, turns: [], startPending: true, ended: false, backstopAt };
    this.#log.info('[CALL SESSION] started', { carrier: this.#translator?.name, ai_profile_id: profile.id });
    this.#later(profile.maxDurationSeconds * 1000, () => this.#timeUp());
    this.#greet(profile);
    await this.ctx.storage.put('session', this.#stored);
    await this.ctx.storage.setAlarm(backstopAt);
    // Not waited for: the greeting does not wait on the database.
    this.ctx.waitUntil(this.#writeRecords().catch(() => {}));
  }

  /** The carrier's start named its stream: it must be this call's (the carrier's call id, account and our call record id). */
  #onStreamStart(stream: StreamIdentity | undefined): void {
    const call = this.#call;
    if (!call) return;
    const mismatch = !stream
      ? undefined
      : stream.callId !== call.externalCallId
        ? 'another call'
        : call.account !== null && stream.accountId !== call.account
          ? 'another account'
          : stream.callRecordId !== call.callId
            ? 'another call record'
            : call.controlId !== null && stream.controlId !== undefined && stream.controlId !== call.controlId
              ? 'another call control id'
              : undefined;
    if (mismatch) {
      this.#refuseStream(mismatch);
    } else {
      this.#endableAtCarrier = true;
      if (stream?.unsupportedAudio) this.#refuseAudio(call, stream.unsupportedAudio);
      else void this.#begin();
    }
  }

  /** This call's stream, in audio the session cannot take (not 8 kHz μ-law): the call ends now, never in noise or silence. */
  #refuseAudio(call: { tenantId: string; callId: string }, audio: string): void {
    this.#log.error('[CALL SESSION] refused: the stream’s audio is not 8 kHz μ-law', { carrier: this.#translator?.name, audio });
    if (this.#carrier?.readyState === WebSocket.OPEN) this.#carrier.close(1003, 'audio must be 8 kHz μ-law');
    this.ctx.waitUntil(this.#recordRefused(call.tenantId, call.callId, 'error'));
    void this.#end('error');
  }

  /** A stream that does not belong to this call: closed, and nothing of it recorded (the session never began). */
  #refuseStream(reason: string): void {
    this.#log.warn('[CALL SESSION] refused: the stream does not belong to this call', { carrier: this.#translator?.name, reason });
    if (this.#carrier?.readyState === WebSocket.OPEN) this.#carrier.close(1008, 'stream does not belong to this call');
    void this.#end('error');
  }

  /**
   * A write to try again (the call's row had not arrived, or the database failed), or the
   * backstop: the object was evicted mid-call, its call is gone, and what storage kept is written
   * as ended by `error`.
   */
  override async alarm(): Promise<void> {
    const stored = this.#stored ?? (await this.ctx.storage.get<StoredSession>('session'));
    if (!stored || stored.ended) return;
    if (!this.#stored) {
      this.#stored = stored;
      this.#log = createLogger({ component: 'call-session', call_record_id: stored.callId, tenant_id: stored.tenantId });
    }
    const live = this.#carrier?.readyState === WebSocket.OPEN || this.#ending !== undefined;
    if (!live && !stored.end) {
      // No socket in this object: the call went with the object that had it.
      stored.end = { at: Date.now(), reason: 'error', summary: null };
      stored.retry = undefined;
    }
    await this.#writeRecords();
  }

  // ---- the caller's side ----

  #onCarrierEvent(event: CarrierEvent): void {
    if (event.type === 'carrier_error') {
      this.#log.warn('[CALL SESSION] carrier error', { carrier: this.#translator?.name, code: event.code });
      return;
    }
    if (!this.#stored) {
      // Before the session begins only the carrier's start counts (or the caller leaving).
      if (event.type === 'media_start') this.#onStreamStart(event.stream);
      else if (event.type === 'hangup') void this.#end('caller_hung_up');
      return;
    }
    if (event.type === 'audio') {
      this.#framesIn++;
      this.#model?.appendAudio(event.ulaw);
      this.#callerAudioAt = Date.now();
      this.#callerGapFilledMs = 0;
      this.#watchCallerGap();
    } else if (event.type === 'dtmf') {
      this.#addTurn('caller', `[keypad] ${event.digit}`, this.#offset());
      this.#model?.send({
        type: 'conversation.item.create',
        item: {
          type: 'message',
          role: 'user',
          content: [{ type: 'input_text', text: `The caller pressed ${event.digit} on the keypad.` }],
        },
      });
      this.#model?.send({ type: 'response.create' });
    } else if (event.type === 'mark') {
      // The last words have been played: the call can end now.
      if (this.#hangupAfterPlayback && event.name === this.#endMark) {
        this.#allHeard = true;
        void this.#end(this.#hangupAfterPlayback);
      }
    } else if (event.type === 'hangup') {
      void this.#end('caller_hung_up');
    }
  }

  /**
   * One timer while the caller's audio flows (not one per frame): when it has stopped for
   * CALLER_GAP_MS, the model gets the silence the caller "sent" meanwhile, up to CALLER_GAP_FILL_MS.
   */
  #watchCallerGap(): void {
    if (this.#callerGapTimer || this.#ending) return;
    this.#callerGapTimer = setTimeout(() => {
      this.#callerGapTimer = undefined;
      if (this.#ending || !this.#model) return;
      const gap = Date.now() - this.#callerAudioAt;
      if (gap >= CALLER_GAP_MS) {
        const owed = Math.min(gap, CALLER_GAP_FILL_MS) - this.#callerGapFilledMs;
        const frames = Math.floor(owed / FRAME_MS);
        if (frames > 0) {
          this.#model.appendAudio(new Uint8Array(frames * FRAME_BYTES).fill(ULAW_SILENCE));
          this.#callerGapFilledMs += frames * FRAME_MS;
          this.#framesFilled += frames;
        }
        if (this.#callerGapFilledMs + FRAME_MS > CALLER_GAP_FILL_MS) return; // filled: the next frame watches again
      }
      this.#watchCallerGap();
    }, CALLER_GAP_MS);
  }

  // ---- the model's side ----

  #greet(profile: SessionProfile): void {
    const instructions = profile.greeting
      ? `Greet the caller now. Say exactly: "${profile.greeting.replaceAll('"', "'")}"`
      : 'Greet the caller now, briefly, and ask how you can help.';
    this.#model?.send({ type: 'response.create', response: { instructions } });
  }

  #onModelEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'response.created':
        this.#responseActive = true;
        break;
      case 'response.output_audio.delta':
        this.#playAgentAudio(String(event.item_id ?? ''), fromBase64(String(event.delta ?? '')));
        break;
      case 'response.output_audio_transcript.delta': {
        const item = this.#item(String(event.item_id ?? ''));
        if (!item.truncated) item.text += String(event.delta ?? '');
        break;
      }
      case 'response.output_audio_transcript.done': {
        const item = this.#item(String(event.item_id ?? ''));
        if (!item.truncated) item.text = String(event.transcript ?? '');
        this.#recordAgentTurn(item);
        break;
      }
      case 'response.output_text.done':
        if (this.#summary) this.#summary.text = String(event.text ?? '');
        break;
      case 'input_audio_buffer.speech_started':
        this.#callerTurnStarts.set(String(event.item_id ?? ''), this.#offset());
        this.#bargeIn();
        break;
      case 'conversation.item.input_audio_transcription.completed': {
        const itemId = String(event.item_id ?? '');
        const text = String(event.transcript ?? '').trim();
        if (text) this.#addTurn('caller', text, this.#callerTurnStarts.get(itemId) ?? this.#offset());
        break;
      }
      case 'response.done':
        this.#onResponseDone(event);
        break;
      case 'error':
        // Most errors are about one request (a cancel that came late, say); a lost session closes the socket.
        this.#log.warn('[CALL SESSION] model error', { code: errorCode(event) });
        break;
    }
  }

  #onResponseDone(event: ServerEvent): void {
    this.#responseActive = false;
    const response = event.response as
      | { status?: string; output?: { id?: string; type?: string; name?: string }[]; conversation_id?: unknown }
      | undefined;
    if (this.#summary && response?.conversation_id === null) {
      this.#summary.resolve(this.#summary.text || null);
      return;
    }
    // A cancelled response's audio stopped short of its words: only a completed one's length is known.
    if (response?.status === 'completed') {
      for (const output of response.output ?? []) {
        const item = output.id ? this.#items.get(output.id) : undefined;
        if (item) item.audioDone = true;
      }
    }
    if (response?.output?.some((output) => output.type === 'function_call' && output.name === END_CALL_TOOL)) {
      this.#hangupAfterPlayback ??= 'agent_ended';
    }
    if (this.#goodbyeAfterResponse) {
      this.#goodbyeAfterResponse = false;
      this.#sayGoodbye();
      return;
    }
    // The agent's last words (its goodbye, before end_call or at the time limit) are all in.
    this.#checkHangup();
  }

  #onModelClosed(code: number): void {
    if (this.#ending || !this.#model?.ready) return;
    this.#log.error('[CALL SESSION] the model closed the connection mid-call', { code });
    void this.#end('model_failed');
  }

  // ---- playback toward the caller, paced so that a flush drops little and "heard" is known ----

  #playAgentAudio(itemId: string, ulaw: Uint8Array): void {
    if (this.#ending && !this.#hangupAfterPlayback) return;
    const item = this.#item(itemId);
    // Frames are whole 20 ms; a delta's odd tail waits for the next one.
    const joined = concat(this.#pendingAudio, ulaw);
    const whole = joined.length - (joined.length % FRAME_BYTES);
    this.#pendingAudio = joined.slice(whole);
    if (this.#queuedBytes + whole > MAX_QUEUED_BYTES) return;
    for (let offset = 0; offset < whole; offset += FRAME_BYTES) {
      this.#queue.push(joined.subarray(offset, offset + FRAME_BYTES));
      this.#queuedBytes += FRAME_BYTES;
    }
    if (item.playsFrom === null) item.playsFrom = Math.max(this.#playedUntil, Date.now()) + (this.#queuedBytes - whole) / 8;
    item.audioMs += whole / 8;
    this.#playingItem = itemId;
    this.#pump();
  }

  #pump(): void {
    if (this.#pumpTimer) return;
    const carrier = this.#carrier;
    const translator = this.#translator;
    if (!carrier || !translator || carrier.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (this.#playedUntil < now) this.#playedUntil = now;
    while (this.#queue.length > 0 && this.#playedUntil - now < PLAYBACK_LEAD_MS) {
      const frame = this.#queue.shift() as Uint8Array;
      this.#queuedBytes -= frame.length;
      for (const message of translator.audio(frame)) carrier.send(message);
      this.#framesOut++;
      this.#playedUntil += FRAME_MS;
    }
    if (this.#queue.length > 0) {
      this.#pumpTimer = setTimeout(() => {
        this.#pumpTimer = undefined;
        this.#pump();
      }, FRAME_MS);
    } else {
      this.#checkHangup();
    }
  }

  /** The caller started speaking: stop the agent at once, and keep of its turn only what was heard. */
  #bargeIn(): void {
    const now = Date.now();
    const talking = this.#queue.length > 0 || this.#playedUntil > now;
    if (!talking && !this.#responseActive) return;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#pendingAudio = new Uint8Array(0);
    this.#playedUntil = now;
    if (this.#carrier && this.#translator) for (const message of this.#translator.clear()) this.#carrier.send(message);
    if (this.#responseActive) this.#model?.send({ type: 'response.cancel' });
    const item = this.#playingItem ? this.#items.get(this.#playingItem) : undefined;
    if (item && item.playsFrom !== null && !item.truncated) {
      const heardMs = Math.max(0, Math.min(item.audioMs, now - item.playsFrom));
      // All that had come was heard, but more was coming (a model behind real time): still cut.
      if (heardMs < item.audioMs || !item.audioDone) {
        this.#model?.send({ type: 'conversation.item.truncate', item_id: item.id, content_index: 0, audio_end_ms: Math.floor(heardMs) });
        this.#truncate(item, heardMs);
      }
    }
    this.#playingItem = undefined;
  }

  /**
   * The call is to end once the agent's last words are heard: when the response is done and all
   * its audio is sent, a mark follows it, and the carrier's echo of that mark (it has played) ends
   * the call. Should no echo come, the call ends MARK_GRACE_MS after the session's own clock says
   * the audio played out. Audio arriving later (a response still talking) sends a new mark.
   */
  #checkHangup(): void {
    const reason = this.#hangupAfterPlayback;
    if (!reason || this.#ending || this.#responseActive || this.#queue.length > 0) return;
    this.#endMark = `vca-end-${++this.#marksSent}`;
    const carrier = this.#carrier;
    if (carrier?.readyState === WebSocket.OPEN) for (const message of this.#translator?.mark(this.#endMark) ?? []) carrier.send(message);
    if (this.#hangupTimer) this.#cancel(this.#hangupTimer);
    this.#hangupTimer = this.#later(Math.max(0, this.#playedUntil - Date.now()) + MARK_GRACE_MS, () => void this.#end(reason));
  }

  #timeUp(): void {
    if (this.#ending || this.#hangupAfterPlayback) return;
    this.#hangupAfterPlayback = 'time_limit';
    // One response at a time (the model refuses a second): an agent still speaking finishes, then says goodbye.
    if (this.#responseActive) this.#goodbyeAfterResponse = true;
    else this.#sayGoodbye();
    this.#later(GOODBYE_CAP_MS, () => void this.#end('time_limit'));
  }

  #sayGoodbye(): void {
    // Speaking from now on: no hang-up is armed before the goodbye's own response is done.
    this.#responseActive = true;
    this.#model?.send({
      type: 'response.create',
      response: { instructions: 'The call has reached its time limit. Say a short, polite goodbye now, in one sentence.' },
    });
  }

  // ---- the end, exactly once ----

  #end(reason: SessionEndReason): Promise<void> {
    this.#ending ??= this.#finishCall(reason);
    return this.#ending;
  }

  async #finishCall(reason: SessionEndReason): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    if (this.#pumpTimer) clearTimeout(this.#pumpTimer);
    if (this.#callerGapTimer) clearTimeout(this.#callerGapTimer);
    const carrier = this.#carrier;
    if (carrier && carrier.readyState === WebSocket.OPEN) {
      if (reason !== 'caller_hung_up') for (const message of this.#translator?.hangup() ?? []) carrier.send(message);
      carrier.close(1000, reason);
    }
    // A carrier whose call outlives the socket is told to end it (it knows if it already has).
    const settings = this.#settings;
    const endingAtCarrier =
      this.#endableAtCarrier && settings && this.#call
        ? this.#translator?.endCall?.({ settings, callRecordId: this.#call.callId, controlId: this.#call.controlId, log: this.#log })
        : undefined;
    // What was cut off by the end of the call counts as far as the caller heard it: all of it when
    // the carrier said the last words had played, else as far as the playout clock says.
    const now = Date.now();
    for (const item of this.#items.values()) {
      if (item.truncated || item.playsFrom === null) continue;
      const heardMs = this.#allHeard ? item.audioMs : Math.max(0, Math.min(item.audioMs, now - item.playsFrom));
      if (heardMs < item.audioMs || !item.audioDone) this.#truncate(item, heardMs);
      else this.#recordAgentTurn(item);
    }
    const [summary] = await Promise.all([this.#askSummary(), endingAtCarrier]);
    this.#model?.close();
    await this.#finish(reason, summary);
  }

  async #finish(reason: SessionEndReason, summary: string | null): Promise<void> {
    const stored = this.#stored;
    if (!stored || stored.ended || stored.end) return;
    const at = Date.now();
    // The end is kept first, then written: an eviction or a missing row loses nothing.
    stored.end = { at, reason, summary };
    stored.retry = undefined;
    // Counted now: once Postgres has the transcript, the object's storage keeps no turn.
    const turns = stored.turns.length;
    await this.#writeRecords().catch(() => {});
    this.#log.info('[CALL SESSION] ended', {
      reason,
      seconds: Math.round((at - stored.startedAt) / 1000),
      frames_in: this.#framesIn,
      frames_filled: this.#framesFilled,
      frames_out: this.#framesOut,
      turns,
      summary: summary !== null,
      recorded: stored.ended,
    });
  }

  /**
   * Writes what is still to be written, the start before the end, one writer at a time; then sets
   * the alarm for what is left: a retry (backoff), the backstop of a running call, or none. Rejects
   * when the object's own storage failed (an alarm then is retried by the runtime).
   */
  #writeRecords(): Promise<void> {
    const next = this.#writing.then(() => this.#writePending());
    this.#writing = next.catch((error) =>
      this.#log.error('[CALL SESSION] could not keep the call records', { error: error instanceof Error ? error.name : 'unknown' }),
    );
    return next;
  }

  async #writePending(): Promise<void> {
    const stored = this.#stored;
    if (!stored || stored.ended) return;
    const { tenantId, callId } = stored;
    let missing = false;
    if (stored.startPending) {
      const outcome = await this.#write((db) => recordSessionStarted(db, tenantId, callId, new Date(stored.startedAt)));
      if (outcome === 'written') stored.startPending = false;
      missing ||= outcome === 'no_row';
    }
    const end = stored.end;
    if (!stored.startPending && end) {
      const turns = [...stored.turns].sort((a, b) => a.offset_ms - b.offset_ms);
      const outcome = await this.#write((db) =>
        recordSessionEnded(db, tenantId, callId, { at: new Date(end.at), reason: end.reason, turns, summary: end.summary }),
      );
      if (outcome === 'written') stored.ended = true;
      missing ||= outcome === 'no_row';
    }
    const now = Date.now();
    if (stored.ended) {
      if (stored.waitingSince !== undefined) {
        this.#log.info('[CALL SESSION] records written', { waited_seconds: Math.round((now - stored.waitingSince) / 1000) });
      }
      // Postgres has them now: the object's storage keeps no copy of what was said.
      stored.turns = [];
      stored.end = undefined;
      stored.retry = undefined;
      stored.waitingSince = undefined;
      await this.ctx.storage.put('session', stored);
      await this.ctx.storage.deleteAlarm();
      return;
    }
    if (!stored.startPending && !end) {
      // The call runs, its start is written: only the backstop is left.
      stored.retry = undefined;
      await this.ctx.storage.put('session', stored);
      if (stored.backstopAt && stored.backstopAt > now) await this.ctx.storage.setAlarm(stored.backstopAt);
      return;
    }
    if (now - stored.startedAt >= RECORD_WAIT_MAX_MS) return this.#dropRecords(stored);
    const attempt = stored.retry?.attempt ?? 0;
    if (missing && stored.waitingSince === undefined) {
      stored.waitingSince = now;
      this.#log.info('[CALL SESSION] the call record has not arrived: the records wait in storage', {
        start: stored.startPending === true,
        end: end?.reason ?? null,
      });
    }
    stored.retry = { attempt: attempt + 1 };
    await this.ctx.storage.put('session', stored);
    await this.ctx.storage.setAlarm(now + Math.min(RECORD_RETRY_MAX_MS, RECORD_RETRY_FIRST_MS * 2 ** attempt));
  }

  /** The call's row never came: said loudly, and what the caller and agent said is not kept. */
  async #dropRecords(stored: StoredSession): Promise<void> {
    this.#log.error('[CALL SESSION] records dropped: the call record never arrived', {
      waited_hours: Math.round((Date.now() - stored.startedAt) / 3_600_000),
      start: stored.startPending === true,
      end: stored.end?.reason ?? null,
      turns: stored.turns.length,
    });
    stored.turns = [];
    if (stored.end) stored.end.summary = null;
    stored.ended = true;
    stored.retry = undefined;
    await this.ctx.storage.put('session', stored);
    await this.ctx.storage.deleteAlarm();
  }

  async #askSummary(): Promise<string | null> {
    const model = this.#model;
    if (!model?.open || !this.#stored?.turns.length) return null;
    return new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), SUMMARY_DEADLINE_MS);
      this.#summary = {
        text: '',
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
      };
      model.send({
        type: 'response.create',
        response: {
          conversation: 'none',
          output_modalities: ['text'],
          metadata: { purpose: 'summary' },
          instructions:
            'Summarise this phone call for the business in at most three sentences: who called, what they wanted, what was agreed.',
        },
      });
    });
  }

  /** A session refused before it began: its end (no start, no transcript), kept and written like any end. */
  async #recordRefused(tenantId: string, callId: string, reason: SessionEndReason): Promise<void> {
    const at = Date.now();
    this.#stored = { tenantId, callId, startedAt: at, turns: [], end: { at, reason, summary: null }, ended: false };
    await this.#writeRecords().catch(() => {});
  }

  /** One database connection per write: written, no call row (yet), or failed (the alarm tries again). */
  async #write(work: (db: ReturnType<typeof openDatabase>['db']) => Promise<boolean>): Promise<'written' | 'no_row' | 'failed'> {
    // After an eviction the alarm runs in a new object, which has read no settings yet.
    if (!this.#settings) {
      const config = loadConfig(this.env as unknown as Record<string, unknown>);
      if (!config.ok) return 'failed';
      this.#settings = config.settings;
    }
    const database = openDatabase(this.#settings);
    try {
      return (await work(database.db)) ? 'written' : 'no_row';
    } catch (error) {
      this.#log.error('[CALL SESSION] could not write the call record', { error: error instanceof Error ? error.name : 'unknown' });
      return 'failed';
    } finally {
      await database.close().catch(() => {});
    }
  }

  // ---- small helpers ----

  #item(id: string): AgentItem {
    let item = this.#items.get(id);
    if (!item) {
      item = { id, text: '', playsFrom: null, audioMs: 0, audioDone: false, offsetMs: this.#offset(), truncated: false };
      this.#items.set(id, item);
    }
    return item;
  }

  /** The agent's turn as far as the caller heard it. */
  #truncate(item: AgentItem, heardMs: number): void {
    // The model may still be sending the rest: then its length is estimated from the words.
    const wholeMs = item.audioDone ? item.audioMs : Math.max(item.audioMs, item.text.length * SPOKEN_MS_PER_CHARACTER);
    item.text = cutAt(item.text, wholeMs > 0 ? heardMs / wholeMs : 0);
    item.truncated = true;
    this.#recordAgentTurn(item);
  }

  /** Agent turns by item: written when the model has the whole text, rewritten if it is cut short. */
  #agentTurns = new Map<string, TranscriptTurn>();

  #recordAgentTurn(item: AgentItem): void {
    const text = item.text.trim();
    const turn = this.#agentTurns.get(item.id);
    if (turn) {
      turn.text = text;
      this.#persist();
      return;
    }
    if (!text) return;
    const offset = item.playsFrom !== null && this.#stored ? item.playsFrom - this.#stored.startedAt : item.offsetMs;
    const added = this.#addTurn('agent', text, offset);
    if (added) this.#agentTurns.set(item.id, added);
  }

  #addTurn(role: TranscriptTurn['role'], text: string, offsetMs: number): TranscriptTurn | undefined {
    const stored = this.#stored;
    // Once the end is kept, the transcript is what it wrote (or will write).
    if (!stored || stored.end || stored.ended) return undefined;
    const turn = { role, text, offset_ms: Math.max(0, Math.round(offsetMs)) };
    stored.turns.push(turn);
    this.#persist();
    return turn;
  }

  /** The transcript so far into the object's storage: an eviction loses nothing (the alarm writes it). */
  #persist(): void {
    if (this.#stored) this.ctx.waitUntil(this.ctx.storage.put('session', this.#stored));
  }

  #offset(): number {
    return this.#stored ? Date.now() - this.#stored.startedAt : 0;
  }

  #later(ms: number, work: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      work();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  #cancel(timer: ReturnType<typeof setTimeout>): void {
    clearTimeout(timer);
    this.#timers.delete(timer);
  }
}

/** The route the media request's signature vouched for (the bridge's), if it carries one. */
function signedRoute(headers: Headers): SignedRoute | undefined {
  const phoneNumberId = headers.get(SESSION_HEADERS.phoneNumber);
  const externalCallId = headers.get(SESSION_HEADERS.externalCall);
  if (!phoneNumberId || !externalCallId) return undefined;
  return { phoneNumberId, aiProfileId: headers.get(SESSION_HEADERS.aiProfile) || null, externalCallId };
}

function instructionsFor(profile: SessionProfile): string {
  return [
    profile.systemPrompt,
    profile.language ? `Speak ${profile.language} unless the caller prefers another language.` : '',
    'You are speaking with a caller on the telephone. Keep answers short. When the conversation is over, say goodbye and then call end_call.',
  ]
    .filter(Boolean)
    .join('\n\n');
}

/** The share of a text the caller heard, cut at a word boundary. */
function cutAt(text: string, share: number): string {
  if (share >= 1) return text;
  const cut = text.slice(0, Math.floor(text.length * Math.max(0, share)));
  const boundary = cut.lastIndexOf(' ');
  return (boundary > 0 ? cut.slice(0, boundary) : cut).trim();
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function refusal(status: number, code: string, detail: string): Response {
  return new Response(JSON.stringify({ type: `urn:vca:problem:${code}`, title: 'Session refused', status, detail, code }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });
}
