// Scenario 6 of `npm run bench`: N calls at once carrying audio the whole way. Each call is routed
// by the bridge's /inbound, handed off over its /media the way Asterisk's Dial(WebSocket/…) does
// (test/support/asterisk-media.ts), and streams caller audio at Asterisk's pace, 20 ms frames, in
// turns that the realtime model emulator (a process of its own, so its CPU is counted apart)
// echoes back: bridge → Worker → CallSession → emulator and back. Measured: frames lost either way,
// the latency the stack adds to each echo beyond the emulator's own wait, CPU per call-second by
// process, and the bridge's memory per live session. The turns never overlap the agent's speech,
// so nothing is flushed and every byte the model produced must reach Asterisk.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { normalizeDid } from '../contract/phone.ts';
import { uriEncode } from '../test/support/asterisk-dialplan.ts';
import {
  type AsteriskMediaCall,
  dialWebSocket,
  FRAME_MS,
  ULAW_FRAME_BYTES,
  ulawSilence,
  ulawTone,
} from '../test/support/asterisk-media.ts';
import { type CpuPerCall, cpuPerCall, cpuSnapshot } from './bench-cpu.ts';
import { freePort } from './free-port.ts';

/** The emulator's silence threshold: a turn ends after this much quiet, and its echo starts at once. */
export const EMULATOR_SILENCE_MS = 300;
/** Each caller turn: this much tone… */
const SPEECH_MS = 1_000;
/**
 * …then this much silence: the threshold, the echo (as long as the speech), the session's 300 ms
 * of playback lead and a margin, so the next turn starts after the agent has finished speaking.
 */
const GAP_MS = 2_000;
const TURN_MS = SPEECH_MS + GAP_MS;
/** The greeting has played once Asterisk's queue is empty and no agent audio came for this long. */
const GREETING_QUIET_MS = 500;
/** The emulator serves at most 100 connections. */
export const MAX_SESSIONS = 100;

export interface MediaEmulator {
  url: string;
  origin: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** The realtime model emulator in a process of its own, with the silence threshold set explicitly. */
export async function startMediaEmulator(): Promise<MediaEmulator> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      fileURLToPath(new URL('./realtime-emulator.ts', import.meta.url)),
      '--port',
      String(port),
      '--silence-ms',
      String(EMULATOR_SILENCE_MS),
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the realtime emulator exited (${code})`)));
    child.stdout?.once('data', (chunk) => resolve(String(chunk).trim()));
  });
  return { url, origin: new URL(url.replace(/^ws/, 'http')).origin, pid: child.pid, stop: async () => void child.kill('SIGKILL') };
}

export interface MediaStack {
  bridgeUrl: string;
  bridgePid: number | undefined;
  emulator: MediaEmulator;
  admin: pg.Client;
  /** For the CPU breakdown (bench-cpu.ts). */
  pids: Parameters<typeof cpuSnapshot>[0];
}

export interface MediaResult {
  sessions: number;
  media_seconds: number;
  turn: { speech_ms: number; silence_ms: number; emulator_silence_ms: number };
  calls_failed: number;
  turns: number;
  caller_frames_sent: number;
  caller_frames_heard: number;
  caller_frames_lost: number;
  agent_bytes_produced: number;
  agent_bytes_received: number;
  agent_frames_lost: number;
  flush_media_received: number;
  responses_cancelled: number;
  /** Bytes the fake Asterisk itself threw away (full queue, short remainders). */
  asterisk_dropped_bytes: number;
  /** First echo frame at Asterisk − last speech frame sent − the emulator's silence threshold. */
  added_latency_ms: { p50: number; p95: number; p99: number; max: number; samples: number };
  /** The same from the send time of the frame that completed the silence (the load generator's timer jitter left out). */
  added_latency_from_turn_end_ms: { p50: number; p99: number; max: number };
  /**
   * Where it goes, split at the emulator's commit of the turn: `up`, the frame that completed the
   * silence from the fake Asterisk to the emulator (bridge, workerd, CallSession); `down`, the
   * echo's first audio from the emulator to the fake Asterisk (CallSession, workerd, bridge).
   */
  latency_split_ms: { up: { p50: number; p99: number; max: number }; down: { p50: number; p99: number; max: number } };
  slowest_turns: { call: number; turn: number; latency_ms: number; up_ms: number; down_ms: number }[];
  /** Echoes whose first frame came before the threshold could have passed, or not at all. */
  turns_unmatched: number;
  /** How late the load generator sent caller frames against the 20 ms clock. */
  pacing_late_ms: { p99: number; max: number };
  /** Its event loop's delay over the window (perf_hooks, 1 ms resolution). */
  load_generator_loop_delay_ms: { p99: number; max: number };
  cpu_ms_per_call_second?: CpuPerCall;
  window_seconds: number;
  bridge_rss_kib: { before: number; live: number; per_session: number };
}

interface Turn {
  lastSpeechAt: number;
  /** binaryReceived.length when the last speech frame went: the echo is the next message. */
  binaryBefore: number;
  turnEndAt?: number;
}

interface Leg {
  tag: string;
  call: AsteriskMediaCall;
  framesSent: number;
  turns: Turn[];
  late: number[];
  /** When its turns began. */
  turnsFrom?: number;
  /** Its turns are over (the caller keeps sending silence, as RTP does, until it hangs up). */
  done: Promise<void>;
  /** The caller is about to hang up: no more frames. */
  stopped: boolean;
}

export async function benchMedia(stack: MediaStack, sessions: number, mediaSeconds: number): Promise<MediaResult> {
  if (!(sessions >= 1 && sessions <= MAX_SESSIONS))
    throw new Error(`--sessions: 1 to ${MAX_SESSIONS} (the emulator's connection limit), not ${sessions}`);
  if (!(mediaSeconds >= TURN_MS / 1000)) throw new Error(`--media-seconds: at least one turn, ${TURN_MS / 1000} s`);
  const run = randomUUID().slice(0, 8);
  // A tenant, a number (+9199…, apart from the seeded +9198…) and a default profile per call, its
  // prompt tagged to find its emulator session.
  const dids: string[] = [];
  for (let n = 0; dids.length < sessions; n++) {
    const did = `+9199${String(10_000_000 + n * 7919).slice(-8)}`;
    if (normalizeDid(did, 'IN') === did && !dids.includes(did)) dids.push(did);
  }
  const tags = dids.map((_, i) => `Bench media ${run} call ${i}.`);
  const routesKnown = async () =>
    ((await (await fetch(`${stack.bridgeUrl}/healthz`)).json()) as { routes: { count: number } }).routes.count;
  const routesBefore = await routesKnown();
  for (const [i, did] of dids.entries()) {
    await stack.admin.query(
      `with t as (insert into tenants (name) values ($1) returning id),
       p as (insert into phone_numbers (tenant_id, did_number) select id, $2 from t)
       insert into ai_profiles (tenant_id, name, role, system_prompt, greeting, is_default)
       select id, 'Desk', 'receptionist', 'You answer calls.' || chr(10) || $3, 'Hello.', true from t`,
      [`Bench media ${run} ${i}`, did, tags[i]],
    );
  }

  // The bridge answers from its routing table: the new numbers are in it after its next sync.
  const deadline = Date.now() + 30_000;
  while ((await routesKnown()) < routesBefore + dids.length) {
    if (Date.now() > deadline) throw new Error('the media calls’ numbers did not reach the bridge’s routing table');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const rssBefore = rssKib(stack.bridgePid);
  const routes = await Promise.all(
    dids.map(async (did, i) => {
      const callId = `${Math.floor(Date.now() / 1000)}.${run}${i}`;
      const body = `caller_number=${uriEncode('+14155550100')}&called_number=${uriEncode(did)}&call_id=${callId}&timestamp=${Math.floor(Date.now() / 1000)}`;
      const answer = new URLSearchParams(
        await (
          await fetch(`${stack.bridgeUrl}/inbound`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body,
          })
        ).text(),
      );
      if (answer.get('status') !== 'success') throw new Error(`media call ${i} not routed: ${answer}`);
      return { callId, callRecordId: answer.get('call_record_id') as string, tenantId: answer.get('tenant_id') as string };
    }),
  );
  const calls = await Promise.all(
    routes.map((route) =>
      dialWebSocket({
        uri: `${stack.bridgeUrl.replace('http:', 'ws:')}/media`,
        protocols: 'media',
        format: 'json',
        autoAnswer: false,
        answerTimeoutMs: 3_000,
        channelVariables: { VCA_CALL_RECORD_ID: route.callRecordId, VCA_CALL_ID: route.callId, VCA_TENANT_ID: route.tenantId },
      }),
    ),
  );
  const answered = await Promise.all(
    calls.map((call) => Promise.race([call.answered.then(() => true), call.ended.then(() => false), sleep(5_000).then(() => false)])),
  );
  const callsFailed = answered.filter((ok) => !ok).length;

  // Each call streams from its answer on, as RTP does: silence while the greeting plays, then, a
  // share of a turn later than the call before it (so the turns of all calls do not coincide), the
  // turns for `mediaSeconds`.
  const turnFrames = Math.round((mediaSeconds * 1000) / FRAME_MS);
  const speechFrames = SPEECH_MS / FRAME_MS;
  const turnLength = TURN_MS / FRAME_MS;
  const thresholdFrames = EMULATOR_SILENCE_MS / FRAME_MS;
  const wholeTurns = Math.floor(turnFrames / turnLength);
  // The audio is made once: the load generator should spend its time sending it.
  const tone = Array.from({ length: speechFrames }, (_, i) => ulawTone(FRAME_MS, 440, 8000, i * ULAW_FRAME_BYTES));
  const silence = ulawSilence(FRAME_MS);
  const legs: Leg[] = calls.map((call, index) => {
    const leg: Leg = { tag: tags[index] as string, call, framesSent: 0, turns: [], late: [], done: Promise.resolve(), stopped: false };
    if (!answered[index]) return leg;
    leg.done = new Promise<void>((resolve) => {
      const startedAt = performance.now();
      let frame = 0;
      let turnStartFrame: number | undefined;
      let greetedAt: number | undefined;
      const send = () => {
        const now = performance.now();
        // Every frame that is due goes now: a late timer sends the ones it missed, none is skipped.
        while (startedAt + frame * FRAME_MS <= now) {
          leg.late.push(now - (startedAt + frame * FRAME_MS));
          if (turnStartFrame === undefined) {
            const lastAudio = call.binaryReceivedAt.at(-1);
            const greeted = lastAudio !== undefined && call.queuedFrames === 0 && now - lastAudio >= GREETING_QUIET_MS;
            if (greeted && greetedAt === undefined) greetedAt = now;
            if (greetedAt !== undefined && now - greetedAt >= (index * TURN_MS) / calls.length) {
              turnStartFrame = frame;
              leg.turnsFrom = now;
            }
          }
          if (leg.stopped) return resolve();
          const inTurns = turnStartFrame === undefined ? -1 : frame - turnStartFrame;
          // After its turns, silence until the hang-up: a phone's RTP does not stop while the
          // echo still plays (and a gap would be filled by the session with silence of its own,
          // which the model would count as the caller's).
          if (inTurns === turnFrames) resolve();
          const position = inTurns < 0 ? -1 : inTurns % turnLength;
          // Only whole turns are spoken; what is left of the time after the last one is silence.
          const speaking =
            position >= 0 && position < speechFrames && inTurns < turnFrames && Math.floor(inTurns / turnLength) < wholeTurns;
          call.sendCallerAudio(speaking ? (tone[position] as Buffer) : silence);
          leg.framesSent++;
          const sentAt = performance.now();
          if (speaking && position === speechFrames - 1) leg.turns.push({ lastSpeechAt: sentAt, binaryBefore: call.binaryReceived.length });
          if (position === speechFrames - 1 + thresholdFrames) {
            const turn = leg.turns.at(-1);
            if (turn && turn.turnEndAt === undefined) turn.turnEndAt = sentAt;
          }
          frame++;
        }
        setTimeout(send, Math.max(0, startedAt + frame * FRAME_MS - performance.now()));
      };
      send();
    });
    return leg;
  });

  // The steady state: from the moment every call is in its turns to the moment the first one is done.
  const live = legs.filter((_, index) => answered[index]);
  await waitUntil(() => live.every((leg) => leg.turnsFrom !== undefined), 60_000, 'every call to finish its greeting');
  const windowFrom = performance.now();
  const cpuBefore = cpuSnapshot(stack.pids);
  // The fake Asterisk's own stalls: they delay the frames it sends and the arrivals it stamps.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  await Promise.race(live.map((leg) => leg.done));
  loopDelay.disable();
  const windowUntil = performance.now();
  const cpuAfter = cpuSnapshot(stack.pids);
  const rssLive = rssKib(stack.bridgePid);
  const windowSeconds = (windowUntil - windowFrom) / 1000;
  await Promise.all(live.map((leg) => leg.done));

  // Every echo played out, every response finished.
  const emulatorSessions = async () =>
    ((await (await fetch(`${stack.emulator.origin}/__emulator/sessions`)).json()) as { sessions: EmulatorSession[] }).sessions;
  const received = (leg: Leg) => leg.call.binaryReceived.reduce((sum, message) => sum + message.length, 0);
  const produced = (session: EmulatorSession | undefined) =>
    (session?.responses ?? []).filter((r) => r.status === 'completed').reduce((sum, r) => sum + r.audio_ms * 8, 0);
  let records: EmulatorSession[] = [];
  const find = (leg: Leg) => records.find((session) => String(session.instructions).includes(leg.tag));
  await waitUntil(
    async () => {
      records = await emulatorSessions();
      return live.every((leg) => {
        const session = find(leg);
        return Boolean(session?.responses.every((r) => r.status !== 'in_progress')) && received(leg) >= produced(session);
      });
    },
    15_000,
    'every echo to reach Asterisk',
  ).catch(() => {});
  // The callers hang up as their last frame goes: the emulator has then heard all they sent,
  // since their frames and the close travel the same ordered sockets.
  for (const leg of live) leg.stopped = true;
  await Promise.all(calls.map((call) => call.callerHangup()));
  await waitUntil(
    async () => {
      records = await emulatorSessions();
      return live.every((leg) => find(leg)?.closed_at);
    },
    15_000,
    'the emulator to see every call end',
  ).catch(() => {});
  records = await emulatorSessions();

  let callerSent = 0;
  let callerHeard = 0;
  let agentProduced = 0;
  let agentReceived = 0;
  let flushes = 0;
  let cancelled = 0;
  let asteriskDropped = 0;
  let unmatched = 0;
  const added: number[] = [];
  const fromTurnEnd: number[] = [];
  const upward: number[] = [];
  const downward: number[] = [];
  const slowest: MediaResult['slowest_turns'] = [];
  const late: number[] = [];
  for (const leg of legs) {
    const session = find(leg);
    callerSent += leg.framesSent * ULAW_FRAME_BYTES;
    callerHeard += session?.caller_audio_bytes ?? 0;
    agentProduced += produced(session);
    agentReceived += received(leg);
    cancelled += (session?.responses ?? []).filter((r) => r.status === 'cancelled').length;
    flushes += leg.call.textReceived.filter((text) => text.includes('FLUSH_MEDIA')).length;
    asteriskDropped += leg.call.droppedBytes;
    late.push(...leg.late);
    for (const [index, turn] of leg.turns.entries()) {
      const arrival = leg.call.binaryReceivedAt[turn.binaryBefore];
      const latency = arrival === undefined ? Number.NaN : arrival - turn.lastSpeechAt - EMULATOR_SILENCE_MS;
      if (arrival === undefined || !(latency >= -FRAME_MS)) {
        unmatched++;
        continue;
      }
      added.push(latency);
      if (turn.turnEndAt === undefined) continue;
      fromTurnEnd.push(arrival - turn.turnEndAt);
      // Split at the emulator's commit of the turn (same clock: epoch ms; both processes on one machine).
      const committed = session?.caller_turns[index]?.committed_at_ms;
      if (committed === undefined) continue;
      const up = committed - (performance.timeOrigin + turn.turnEndAt);
      const down = performance.timeOrigin + arrival - committed;
      upward.push(up);
      downward.push(down);
      slowest.push({ call: legs.indexOf(leg), turn: index, latency_ms: round2(latency), up_ms: round2(up), down_ms: round2(down) });
    }
  }
  await waitUntil(
    async () => ((await (await fetch(`${stack.bridgeUrl}/healthz`)).json()) as { media: { active: number } }).media.active === 0,
    15_000,
    'the media sessions to end',
  ).catch(() => {});

  const stats = summarize(added);
  const callSeconds = live.length * windowSeconds;
  return {
    sessions,
    media_seconds: mediaSeconds,
    turn: { speech_ms: SPEECH_MS, silence_ms: GAP_MS, emulator_silence_ms: EMULATOR_SILENCE_MS },
    calls_failed: callsFailed,
    turns: legs.reduce((sum, leg) => sum + leg.turns.length, 0),
    caller_frames_sent: callerSent / ULAW_FRAME_BYTES,
    caller_frames_heard: callerHeard / ULAW_FRAME_BYTES,
    caller_frames_lost: (callerSent - callerHeard) / ULAW_FRAME_BYTES,
    agent_bytes_produced: agentProduced,
    agent_bytes_received: agentReceived,
    agent_frames_lost: (agentProduced - agentReceived) / ULAW_FRAME_BYTES,
    flush_media_received: flushes,
    responses_cancelled: cancelled,
    asterisk_dropped_bytes: asteriskDropped,
    added_latency_ms: { ...stats, samples: added.length },
    added_latency_from_turn_end_ms: pick(summarize(fromTurnEnd)),
    latency_split_ms: { up: pick(summarize(upward)), down: pick(summarize(downward)) },
    slowest_turns: slowest.sort((a, b) => b.latency_ms - a.latency_ms).slice(0, 5),
    turns_unmatched: unmatched,
    pacing_late_ms: (({ p99, max }) => ({ p99, max }))(summarize(late)),
    load_generator_loop_delay_ms: { p99: round2(loopDelay.percentile(99) / 1e6), max: round2(loopDelay.max / 1e6) },
    cpu_ms_per_call_second: cpuPerCall(cpuBefore, cpuAfter, callSeconds, availableParallelism()),
    window_seconds: round2(windowSeconds),
    bridge_rss_kib: { before: rssBefore, live: rssLive, per_session: Math.round((rssLive - rssBefore) / Math.max(1, live.length)) },
  };
}

/** The media block of the bench's output. */
export function describeMedia(m: MediaResult): string {
  const ms = (n: number) => `${n} ms`;
  const l = m.added_latency_ms;
  return [
    `media: ${m.sessions} concurrent calls × ${m.media_seconds} s of caller audio (turns of ${m.turn.speech_ms} ms tone + ${m.turn.silence_ms} ms silence; emulator silence threshold ${m.turn.emulator_silence_ms} ms), ${m.turns} turns, ${m.calls_failed} calls failed`,
    `  caller frames  sent ${m.caller_frames_sent}, heard by the model ${m.caller_frames_heard}: lost ${m.caller_frames_lost}`,
    `  agent audio    produced ${m.agent_bytes_produced} B, received by Asterisk ${m.agent_bytes_received} B: lost ${m.agent_frames_lost} frames; FLUSH_MEDIA ${m.flush_media_received}, responses cancelled ${m.responses_cancelled}, dropped by Asterisk ${m.asterisk_dropped_bytes} B`,
    `  added latency  p50 ${ms(l.p50)}, p95 ${ms(l.p95)}, p99 ${ms(l.p99)}, max ${ms(l.max)} over ${l.samples} turns (first echo frame at Asterisk − last speech frame sent − ${m.turn.emulator_silence_ms} ms); ${m.turns_unmatched} unmatched`,
    `                 from the frame that completed the silence: p50 ${ms(m.added_latency_from_turn_end_ms.p50)}, p99 ${ms(m.added_latency_from_turn_end_ms.p99)}; caller frames sent late by p99 ${ms(m.pacing_late_ms.p99)}, max ${ms(m.pacing_late_ms.max)}; load generator event-loop delay p99 ${ms(m.load_generator_loop_delay_ms.p99)}, max ${ms(m.load_generator_loop_delay_ms.max)}`,
    `                 split at the emulator: up (Asterisk → emulator) p50 ${ms(m.latency_split_ms.up.p50)}, p99 ${ms(m.latency_split_ms.up.p99)}, max ${ms(m.latency_split_ms.up.max)}; down (emulator → Asterisk) p50 ${ms(m.latency_split_ms.down.p50)}, p99 ${ms(m.latency_split_ms.down.p99)}, max ${ms(m.latency_split_ms.down.max)}`,
    `  bridge memory  RSS ${m.bridge_rss_kib.before} KiB before, ${m.bridge_rss_kib.live} KiB with ${m.sessions - m.calls_failed} live: ${m.bridge_rss_kib.per_session} KiB per session`,
    `  CPU window     ${m.window_seconds} s with every call in its turns (CPU table: ms per call-second)`,
  ].join('\n');
}

interface EmulatorSession {
  instructions: string | null;
  closed_at: string | null;
  caller_audio_bytes: number;
  caller_turns: { committed_at_ms: number }[];
  responses: { status: string; audio_ms: number }[];
}

/** VmRSS of a process in KiB (Linux), 0 elsewhere. */
function rssKib(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function summarize(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number) : Number.NaN;
  return { p50: round2(at(50)), p95: round2(at(95)), p99: round2(at(99)), max: round2(sorted.at(-1) ?? Number.NaN) };
}

function pick({ p50, p99, max }: ReturnType<typeof summarize>) {
  return { p50, p99, max };
}

function round2(n: number) {
  return Math.round(n * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
