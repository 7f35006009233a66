// The dialplan is the other half of the bridge's contract. This suite checks the shape of
// asterisk/extensions.conf, pjsip.conf and websocket_client.conf, and runs the dialplan against
// every answer the bridge can give to /inbound and every way the hand-off of a routed call's audio
// can go, in the model of Asterisk's PBX in test/support/asterisk-dialplan.ts.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Asterisk dialplan, where ${...} is literal syntax
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CALL_ENDED_FIELDS, INBOUND_FIELDS, parseCallEnded, parseInbound } from '../../bridge/asterisk.ts';
import { NORMAL_CLEARING_CAUSES } from '../../contract/ingest.ts';
import {
  allSteps,
  Channel,
  type ConfigSection,
  type Dialplan,
  findCurlCalls,
  parseConfig,
  parseDialplan,
  patternMatches,
  type Step,
  uriEncode,
  type WebSocketCourse,
  type WebSocketDial,
} from '../support/asterisk-dialplan.ts';

const extensionsText = readFileSync(new URL('../../asterisk/extensions.conf', import.meta.url), 'utf8');
const pjsipText = readFileSync(new URL('../../asterisk/pjsip.conf', import.meta.url), 'utf8');
const websocketClientText = readFileSync(new URL('../../asterisk/websocket_client.conf', import.meta.url), 'utf8');

/** What each posted field must carry, exactly, inside ${URIENCODE(...)}. */
const INBOUND_VALUES: Record<(typeof INBOUND_FIELDS)[number], string> = {
  caller_number: '${CALLERID(num)}',
  called_number: '${VCA_DID}',
  call_id: '${UNIQUEID}',
  timestamp: '${EPOCH}',
};
const CALL_ENDED_VALUES: Record<(typeof CALL_ENDED_FIELDS)[number], string> = {
  call_id: '${UNIQUEID}',
  called_number: '${VCA_DID}',
  caller_number: '${CALLERID(num)}',
  duration: '${CDR(duration)}',
  billsec: '${CDR(billsec)}',
  hangup_cause: '${HANGUPCAUSE}',
  timestamp: '${EPOCH}',
};

/** The bridge's default BRIDGE_INBOUND_DEADLINE_MS, in seconds: CURL must wait longer than this. */
const BRIDGE_DEADLINE_SECONDS = 2;

const plan = parseDialplan(extensionsText);
const websocketClient = parseConfig(websocketClientText);
const curlCalls = findCurlCalls(plan);
const inboundCall = curlCalls.find((call) => call.url.endsWith('/inbound'));
const callEndedCall = curlCalls.find((call) => call.url.endsWith('/call-ended'));

const CALL_RECORD_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const TENANT_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const PROFILE_ID = '3b241101-e2bb-4255-8caf-4136c566a962';
const SUCCESS = `status=success&call_record_id=${CALL_RECORD_ID}&tenant_id=${TENANT_ID}&ai_profile_id=${PROFILE_ID}&ai_profile_role=receptionist`;

const UNIQUEID = '1706556789.123';
const EPOCH = '1706556789';

/** The bridge's own deadline for a session to start: it sends HANGUP then, before Dial's timeout. */
const BRIDGE_SESSION_START_SECONDS = 2.5;
/** The largest max_duration_seconds an AI profile may have (DESIGN, Call sessions). */
const PROFILE_MAX_DURATION_SECONDS = 3600;
/** When the session is ready and the bridge answers, and how long the conversation then lasts. */
const READY = 1.2;
const TALK = 42;

/** What the bridge (and the caller, meanwhile) do with the hand-off: every course the design knows. */
const HAND_OFF = {
  /** Nothing listens on 127.0.0.1:8788 (bridge stopped or restarting). */
  bridgeDown: { upgrade: 'unreachable' },
  /** The upgrade is answered with something other than 101 (404, 503, another subprotocol). */
  bridgeRefuses: { upgrade: 'refused' },
  /** The session could not start in time: the bridge gives up with HANGUP. */
  bridgeHangsUpBeforeAnswer: { upgrade: 'accepted', bridgeEnds: { after: BRIDGE_SESSION_START_SECONDS, how: 'hangup' } },
  bridgeClosesBeforeAnswer: { upgrade: 'accepted', bridgeEnds: { after: BRIDGE_SESSION_START_SECONDS, how: 'close' } },
  connectionLostBeforeAnswer: { upgrade: 'accepted', bridgeEnds: { after: 0.4, how: 'connection-lost' } },
  /** A bridge that accepts and then says nothing: Dial's timeout decides. */
  bridgeNeverAnswers: { upgrade: 'accepted' },
  bridgeAnswersTooLate: { upgrade: 'accepted', answerAfter: 3.5, bridgeEnds: { after: 60, how: 'hangup' } },
  /** The caller gives up during ringback (a CANCEL: chan_pjsip maps its 487 to cause 127). */
  callerHangsUpWhileStarting: { upgrade: 'accepted', answerAfter: 2, callerHangsUp: { after: 1, cause: 127 } },
  /** Answered; the caller hangs up with a BYE, which leaves chan_pjsip's cause at 0. */
  callerHangsUpDuringSession: { upgrade: 'accepted', answerAfter: READY, callerHangsUp: { after: READY + TALK, cause: 0 } },
  /** Answered; the agent ends the call (end_call, time limit, model lost): the bridge's HANGUP. */
  sessionEndsCall: { upgrade: 'accepted', answerAfter: READY, bridgeEnds: { after: READY + TALK, how: 'hangup' } },
  sessionClosesCall: { upgrade: 'accepted', answerAfter: READY, bridgeEnds: { after: READY + TALK, how: 'close' } },
  connectionLostDuringSession: { upgrade: 'accepted', answerAfter: READY, bridgeEnds: { after: READY + TALK, how: 'connection-lost' } },
  /** Answered, and nothing ever ends it: S() does. */
  sessionNeverEnds: { upgrade: 'accepted', answerAfter: READY },
} satisfies Record<string, WebSocketCourse>;

/** A call from Tata, and how the bridge and the caller behave during it. */
interface Scenario {
  /** The Request-URI user part, as Tata sends it. */
  exten: string;
  callerNumber: string;
  /** The bridge's raw answer body to POST /inbound; '' is no answer at all (bridge down). */
  inboundAnswer: string;
  callEndedAnswer?: string;
  /** How the hand-off of a routed call goes; the hook also sees what Asterisk sends. */
  handOff: WebSocketCourse | ((dial: WebSocketDial) => WebSocketCourse);
  /**
   * The caller hangs up with this cause while the /inbound CURL is in flight. As in Asterisk, the
   * CURL still completes and the Set() stores its answer; the channel is then hung up before the
   * next priority runs, and the hangup handlers run.
   */
  callerHangsUpDuringLookupWithCause?: string;
}

function call(overrides: Partial<Scenario> = {}, dialplan: Dialplan = plan): Channel {
  const scenario: Scenario = {
    exten: '+919876543210',
    callerNumber: '+919812345678',
    inboundAnswer: SUCCESS,
    handOff: HAND_OFF.callerHangsUpDuringSession,
    ...overrides,
  };
  const arrival = {
    context: 'from-tata-trunk',
    exten: scenario.exten,
    callerNumber: scenario.callerNumber,
    uniqueId: UNIQUEID,
    epoch: EPOCH,
  };
  return new Channel(
    dialplan,
    arrival,
    {
      curl({ url }, channel) {
        if (url.endsWith('/inbound')) {
          if (scenario.callerHangsUpDuringLookupWithCause !== undefined) channel.callerHangsUp(scenario.callerHangsUpDuringLookupWithCause);
          return scenario.inboundAnswer;
        }
        if (url.endsWith('/call-ended')) return scenario.callEndedAnswer ?? 'status=queued';
        throw new Error(`nothing answers at ${url}`);
      },
      webSocket: (dial) => (typeof scenario.handOff === 'function' ? scenario.handOff(dial) : scenario.handOff),
    },
    { websocketClient },
  ).run();
}

/** The one call-ended event a call posted, as the bridge parses it. */
function callEnded(channel: Channel) {
  const requests = channel.requests('/call-ended');
  expect(requests).toHaveLength(1);
  const fields = Object.fromEntries(new URLSearchParams(requests[0]?.postdata));
  const parsed = parseCallEnded(fields);
  expect(parsed.success, JSON.stringify(fields)).toBe(true);
  return { fields, event: parsed.data as NonNullable<typeof parsed.data> };
}

/** The Worker's rule for the call's record: failed when there was no talk time and the cause is not normal clearing. */
function recordedAs(event: { duration_seconds: number; hangup_cause: number }): 'ended' | 'failed' {
  return event.duration_seconds === 0 && !NORMAL_CLEARING_CAUSES.includes(event.hangup_cause) ? 'failed' : 'ended';
}

describe('extensions.conf: shape', () => {
  it('parses into [general], [globals] and the three contexts', () => {
    expect([...plan.contexts.keys()].sort()).toEqual(['from-tata-trunk', 'vca-hangup', 'vca-inbound']);
    expect(plan.general.get('writeprotect')).toBe('yes');
  });

  it('(a) [globals] holds the bridge address, the media connection and the hand-off limits', () => {
    expect(Object.fromEntries(plan.globals)).toEqual({
      VCA_BRIDGE_URL: 'http://127.0.0.1:8788',
      VCA_MEDIA_CONNECTION: 'vca-media',
      VCA_SESSION_START_SECONDS: '3',
      VCA_MAX_CALL_SECONDS: '3660',
    });
    // The bridge gives up first, so its log says why; the session's own time limit speaks before S().
    expect(Number(plan.globals.get('VCA_SESSION_START_SECONDS'))).toBeGreaterThan(BRIDGE_SESSION_START_SECONDS);
    expect(Number(plan.globals.get('VCA_MAX_CALL_SECONDS'))).toBeGreaterThan(PROFILE_MAX_DURATION_SECONDS);
  });

  it('(a) every CURL() goes to ${VCA_BRIDGE_URL}/inbound or /call-ended, one of each', () => {
    expect(curlCalls.map((c) => c.url).sort()).toEqual(['${VCA_BRIDGE_URL}/call-ended', '${VCA_BRIDGE_URL}/inbound']);
    // No other way to reach the network, and the address is written nowhere else.
    const texts = allSteps(plan).map((step) => step.data);
    expect(texts.filter((text) => text.includes('CURL(')).length).toBe(2);
    expect(texts.some((text) => /https?:\/\//.test(text))).toBe(false);
    expect(inboundCall?.step.context).toBe('vca-inbound');
    expect(callEndedCall?.step.context).toBe('vca-hangup');
  });

  it('both DID formats reach the one shared routine, with the DID kept in VCA_DID', () => {
    const trunk = plan.contexts.get('from-tata-trunk') as Map<string, Step[]>;
    expect([...trunk.keys()].sort()).toEqual(['_+X.', '_X.']);
    for (const steps of trunk.values()) {
      expect(steps[0]).toMatchObject({ priority: 1, app: 'Set', data: 'VCA_DID=${EXTEN}' });
      expect(steps[1]).toMatchObject({ app: 'Gosub', data: 'vca-inbound,s,1' });
    }
    expect(patternMatches('_+X.', '+919876543210')).toBe(true);
    expect(patternMatches('_X.', '+919876543210')).toBe(false);
    expect(patternMatches('_X.', '09876543210')).toBe(true);
    expect(patternMatches('_+X.', '09876543210')).toBe(false);
  });
});

describe('extensions.conf: what is posted to the bridge', () => {
  for (const [path, getCall, contract, expected] of [
    ['/inbound', () => inboundCall, INBOUND_FIELDS, INBOUND_VALUES],
    ['/call-ended', () => callEndedCall, CALL_ENDED_FIELDS, CALL_ENDED_VALUES],
  ] as const) {
    it(`(b) ${path} posts exactly the contract's fields, each once`, () => {
      const names = getCall()?.fields.map((field) => field.name) ?? [];
      expect([...names].sort()).toEqual([...contract].sort());
      expect(new Set(names).size).toBe(names.length);
      expect(Object.keys(expected).sort()).toEqual([...contract].sort());
    });

    it(`(c) ${path}: every value is \${URIENCODE(...)} around the expected channel expression`, () => {
      for (const field of getCall()?.fields ?? []) {
        const wanted = (expected as Record<string, string>)[field.name];
        expect(field.value, field.name).toBe(`\${URIENCODE(${wanted})}`);
      }
    });
  }

  it('(c) the DID posted is the number Tata sent, in either format', () => {
    for (const exten of ['+919876543210', '09876543210']) {
      const channel = call({ exten });
      const inbound = new URLSearchParams(channel.requests('/inbound')[0]?.postdata);
      const ended = new URLSearchParams(channel.requests('/call-ended')[0]?.postdata);
      expect(inbound.get('called_number')).toBe(exten);
      expect(ended.get('called_number')).toBe(exten);
    }
  });
});

/** The events that make up a call's course: no logs, no CURL options. */
const flowOf = (channel: Channel) => channel.events.filter((e) => e.kind !== 'log' && e.kind !== 'curlopt');

describe('extensions.conf: call flow', () => {
  const inbound = plan.contexts.get('vca-inbound')?.get('s') ?? [];
  const indexOf = (predicate: (step: Step) => boolean) => inbound.findIndex(predicate);

  it('(d) hashcompat and short timeouts are set before the /inbound CURL; only the Dial after the success check answers', () => {
    const curl = indexOf((step) => step === inboundCall?.step);
    const hashcompat = indexOf((step) => step.app === 'Set' && step.data === 'CURLOPT(hashcompat)=yes');
    const successCheck = indexOf((step) => step.app === 'GotoIf' && step.data.includes('"success"'));
    const dials = allSteps(plan).filter((step) => step.app === 'Dial');
    expect(hashcompat).toBeGreaterThanOrEqual(0);
    expect(hashcompat).toBeLessThan(curl);
    expect(successCheck).toBeGreaterThan(curl);
    // No Answer() anywhere: a session that cannot start must fail unanswered.
    expect(allSteps(plan).filter((step) => step.app === 'Answer')).toEqual([]);
    expect(dials).toHaveLength(1);
    expect(inbound.indexOf(dials[0] as Step)).toBeGreaterThan(successCheck);

    const timeouts = Object.fromEntries(
      inbound.slice(0, curl).flatMap((step) => {
        const match = /^CURLOPT\((conntimeout|httptimeout)\)=(.*)$/.exec(step.data);
        return match ? [[match[1] as string, Number(match[2])]] : [];
      }),
    );
    expect(timeouts.httptimeout).toBeGreaterThan(BRIDGE_DEADLINE_SECONDS);
    expect(timeouts.httptimeout).toBeLessThanOrEqual(6);
    expect(timeouts.conntimeout).toBeGreaterThan(0);
    expect(timeouts.conntimeout).toBeLessThanOrEqual(timeouts.httptimeout ?? 0);
  });

  it('(d) at run time: options, then the question, then the answer, then ringing and the hand-off', () => {
    const channel = call();
    const kinds = channel.events.filter((e) => e.kind !== 'log').map((e) => (e.kind === 'curlopt' ? `${e.name}=${e.value}` : e.kind));
    const firstCurl = kinds.indexOf('curl');
    expect(kinds.indexOf('hashcompat=yes')).toBeLessThan(firstCurl);
    expect(kinds.indexOf('ringing')).toBeGreaterThan(firstCurl);
    expect(kinds.indexOf('dial')).toBeGreaterThan(kinds.indexOf('ringing'));
    expect(kinds.indexOf('answer')).toBeGreaterThan(kinds.indexOf('media-start'));
    expect(channel.events.find((e) => e.kind === 'curl')).toMatchObject({ url: 'http://127.0.0.1:8788/inbound' });
  });

  it('a success without an AI profile is still handed off (empty profile fields)', () => {
    const channel = call({
      inboundAnswer: `status=success&call_record_id=${CALL_RECORD_ID}&tenant_id=${TENANT_ID}&ai_profile_id=&ai_profile_role=`,
    });
    expect(channel.answered).toBe(true);
    expect(channel.substitute('${VCA_AI_PROFILE_ID}')).toBe('');
    expect(channel.webSockets).toHaveLength(1);
  });

  const rejections: [string, string, string][] = [
    ['unknown DID', 'status=error&code=unknown_did', '1'],
    ['inactive DID', 'status=error&code=inactive_did', '21'],
    ['inactive tenant', 'status=error&code=tenant_inactive', '21'],
    ['deferred (Worker not reached in time)', 'status=deferred', '41'],
    ['the Worker refused the request', 'status=error&code=rejected', '41'],
    ['a malformed request (400)', 'status=error&code=bad_request&detail=caller_number%3A+too+long', '41'],
    ['an error without a code', 'status=error', '41'],
    ['a success without a call record', 'status=success&tenant_id=x', '41'],
    ['an answer that is not key=value', '<html><body>502 Bad Gateway</body></html>', '41'],
    ['an unknown status', 'status=maybe&code=unknown_did', '41'],
    ['no answer at all (bridge down)', '', '41'],
  ];

  const silentEnd = (cause: string) => [
    { kind: 'push-hangup-handler', target: 'vca-hangup,s,1' },
    { kind: 'curl', url: 'http://127.0.0.1:8788/inbound', postdata: expect.any(String) },
    { kind: 'hangup', cause },
    { kind: 'run-hangup-handler', target: 'vca-hangup,s,1' },
  ];

  for (const [what, answer, cause] of rejections) {
    it(`(e)(f) ${what} → Hangup(${cause}), unanswered; the hangup handler runs and posts nothing`, () => {
      const channel = call({ inboundAnswer: answer });
      expect(channel.hangupCause).toBe(cause);
      expect(channel.answered).toBe(false);
      expect(channel.requests('/call-ended')).toHaveLength(0);
      expect(flowOf(channel)).toEqual(silentEnd(cause));
      expect(channel.unsetReads).toEqual([]);
    });
  }

  it('(f) the hangup handler is pushed exactly once, before the /inbound CURL', () => {
    const pushes = allSteps(plan).filter((step) => step.app === 'Set' && step.data.startsWith('CHANNEL(hangup_handler_push)='));
    expect(pushes).toHaveLength(1);
    expect(pushes[0]?.data).toBe('CHANNEL(hangup_handler_push)=vca-hangup,s,1');
    const push = inbound.indexOf(pushes[0] as Step);
    const curl = indexOf((step) => step === inboundCall?.step);
    const lastCurlopt = inbound.findLastIndex((step) => step.data.startsWith('CURLOPT('));
    expect(push).toBeGreaterThan(lastCurlopt);
    expect(push).toBeLessThan(curl);
    // At run time too, whatever the answer: one push, before the question is asked.
    for (const inboundAnswer of [SUCCESS, ...rejections.map(([, answer]) => answer)]) {
      const kinds = call({ inboundAnswer }).events.map((e) => e.kind);
      expect(kinds.filter((kind) => kind === 'push-hangup-handler')).toHaveLength(1);
      expect(kinds.indexOf('push-hangup-handler')).toBeLessThan(kinds.indexOf('curl'));
    }
  });

  /** No path of the dialplan hangs up with this cause itself, so seeing it means the caller's. */
  const CALLER_CAUSE = '127';

  it('(i) a caller who hangs up during the lookup of a routed call still gets one call-ended', () => {
    const channel = call({ callerHangsUpDuringLookupWithCause: CALLER_CAUSE });
    expect(channel.answered).toBe(false);
    expect(channel.hangupCause).toBe(CALLER_CAUSE);
    expect(flowOf(channel)).toEqual([
      ...silentEnd(CALLER_CAUSE),
      { kind: 'curl', url: 'http://127.0.0.1:8788/call-ended', postdata: expect.any(String) },
    ]);
    const ended = channel.requests('/call-ended');
    expect(ended).toHaveLength(1);
    const fields = Object.fromEntries(new URLSearchParams(ended[0]?.postdata));
    expect(fields).toMatchObject({ call_id: UNIQUEID, billsec: '0', hangup_cause: CALLER_CAUSE, called_number: '+919876543210' });
    const parsed = parseCallEnded(fields);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toMatchObject({ duration_seconds: 0, hangup_cause: Number(CALLER_CAUSE) });
    expect(channel.unsetReads).toEqual([]);
    // The dialplan stopped right after the CURL: the accept branch never ran.
    expect(channel.substitute('${VCA_STATUS}')).toBe('');
  });

  for (const [what, answer] of rejections) {
    it(`(ii) ${what}, and the caller hangs up during the lookup → no call-ended`, () => {
      const channel = call({ inboundAnswer: answer, callerHangsUpDuringLookupWithCause: CALLER_CAUSE });
      expect(channel.answered).toBe(false);
      expect(channel.hangupCause).toBe(CALLER_CAUSE);
      expect(channel.requests('/call-ended')).toHaveLength(0);
      expect(flowOf(channel)).toEqual(silentEnd(CALLER_CAUSE));
      expect(channel.unsetReads).toEqual([]);
    });
  }

  it('a call-ended the bridge did not queue is logged, and the handler still returns', () => {
    const channel = call({ callEndedAnswer: '' });
    expect(channel.logs.some((text) => text.includes('did not queue call-ended'))).toBe(true);
  });

  it('logs never show the full caller number', () => {
    for (const inboundAnswer of [SUCCESS, ...rejections.map(([, answer]) => answer)]) {
      const channel = call({ callerNumber: '+919812345678', inboundAnswer });
      expect(channel.logs.length).toBeGreaterThan(0);
      for (const text of channel.logs) expect(text).not.toContain('9812345678');
    }
    expect(call().logs[0]).toContain('...5678');
  });
});

describe('extensions.conf: the hand-off of a routed call to the bridge', () => {
  const inbound = plan.contexts.get('vca-inbound')?.get('s') ?? [];
  const dial = inbound.find((step) => step.app === 'Dial') as Step;
  const DIAL_AT_RUN_TIME = 'WebSocket/vca-media/c(ulaw)nf(json),3,S(3660)';
  const warnings = (channel: Channel) =>
    channel.events.flatMap((event) => (event.kind === 'log' && event.level === 'WARNING' ? [event.text] : []));
  const dialStatus = (channel: Channel) => channel.events.find((event) => event.kind === 'dial-end');

  it('dials the websocket_client of [globals] with c(ulaw), n and f(json), the start timeout and S()', () => {
    expect(dial.data).toBe('WebSocket/${VCA_MEDIA_CONNECTION}/c(ulaw)nf(json),${VCA_SESSION_START_SECONDS},S(${VCA_MAX_CALL_SECONDS})');
    const [peer = '', timeout, options] = call().substitute(dial.data).split(',');
    const [tech, connection, channelOptions = ''] = peer.split('/');
    expect([tech, connection, timeout, options]).toEqual(['WebSocket', 'vca-media', '3', 'S(3660)']);
    // chan_websocket's options, one letter each: the codec, no auto-answer, JSON control; never v().
    expect(channelOptions.match(/[a-z](\([^)]*\))?/g)?.sort()).toEqual(['c(ulaw)', 'f(json)', 'n']);
  });

  it('inherits exactly the call record, the call and the tenant (one underscore), then rings, dials, and only then warns and rejects', () => {
    const at = inbound.indexOf(dial);
    const sets = inbound.filter((step) => step.app === 'Set' && step.data.startsWith('_'));
    expect(sets.map((step) => step.data)).toEqual([
      '_VCA_CALL_RECORD_ID=${HASH(vca,call_record_id)}',
      '_VCA_CALL_ID=${UNIQUEID}',
      '_VCA_TENANT_ID=${HASH(vca,tenant_id)}',
    ]);
    for (const step of sets) expect(inbound.indexOf(step)).toBeLessThan(at);
    expect(inbound[at - 1]).toMatchObject({ app: 'Ringing', data: '' });
    expect(inbound.slice(at + 1).map((step) => `${step.app}(${step.data.split(',')[0]})`)).toEqual(['Log(WARNING)', 'Hangup(41)']);
  });

  it('MEDIA_START carries the three VCA_ variables to the bridge, and nothing else of the call', () => {
    let seen: WebSocketDial | undefined;
    const channel = call({
      handOff: (dial) => {
        seen = dial;
        return HAND_OFF.callerHangsUpDuringSession;
      },
    });
    expect(seen).toMatchObject({ connectionId: 'vca-media', uri: 'ws://127.0.0.1:8788/media', protocols: 'media', autoAnswer: false });
    const [webSocket] = channel.webSockets;
    expect(webSocket?.variables).toEqual({
      DIALEDPEERNUMBER: 'vca-media/c(ulaw)nf(json)',
      MEDIA_WEBSOCKET_CONNECTION_ID: 'vca-media',
      MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE: '160',
      VCA_TENANT_ID: TENANT_ID,
      VCA_CALL_ID: UNIQUEID,
      VCA_CALL_RECORD_ID: CALL_RECORD_ID,
    });
    // What the bridge parses: compact JSON, μ-law in 160-byte frames, the channel's variables.
    const mediaStart = JSON.parse(seen?.mediaStart ?? '');
    expect(mediaStart).toMatchObject({
      event: 'MEDIA_START',
      connection_id: 'vca-media',
      format: 'ulaw',
      optimal_frame_size: 160,
      ptime: 20,
    });
    expect(mediaStart.channel_variables).toEqual(webSocket?.variables);
    expect(channel.events).toContainEqual({ kind: 'media-start', message: seen?.mediaStart });
    // VCA_CALL_ID is the call_id of the call's call-ended: the key the bridge joins the two on.
    expect(mediaStart.channel_variables.VCA_CALL_ID).toBe(callEnded(channel).fields.call_id);
    // Not the caller, the DID, the profile, the routing answer; no credential of any kind.
    const names = Object.keys(mediaStart.channel_variables);
    expect(names.filter((name) => name.includes('VCA')).sort()).toEqual(['VCA_CALL_ID', 'VCA_CALL_RECORD_ID', 'VCA_TENANT_ID']);
    for (const name of names) expect(name).not.toMatch(/SECRET|PASSWORD|TOKEN|KEY|AUTH/i);
    const values = Object.values<string>(mediaStart.channel_variables).join(' ');
    for (const kept of ['9812345678', '9876543210', PROFILE_ID, 'receptionist', 'success', 'whsec_']) expect(values).not.toContain(kept);
  });

  const bridged: [string, WebSocketCourse, number][] = [
    ['the caller hangs up (a BYE)', HAND_OFF.callerHangsUpDuringSession, TALK],
    ['the session ends the call (HANGUP)', HAND_OFF.sessionEndsCall, TALK],
    ['the session closes the WebSocket', HAND_OFF.sessionClosesCall, TALK],
    ['a session that never ends is cut by S() at VCA_MAX_CALL_SECONDS', HAND_OFF.sessionNeverEnds, 3660],
  ];

  for (const [what, handOff, talk] of bridged) {
    it(`answered when the session is ready, bridged, then ${what} → cause 16, the talk time posted once`, () => {
      const channel = call({ handOff });
      expect(flowOf(channel)).toEqual([
        { kind: 'push-hangup-handler', target: 'vca-hangup,s,1' },
        { kind: 'curl', url: 'http://127.0.0.1:8788/inbound', postdata: expect.any(String) },
        { kind: 'ringing' },
        { kind: 'dial', data: DIAL_AT_RUN_TIME },
        { kind: 'media-start', message: expect.stringMatching(/^\{"event":"MEDIA_START",/) },
        { kind: 'answer' },
        { kind: 'dial-end', dialStatus: 'ANSWER' },
        { kind: 'hangup', cause: '16' },
        { kind: 'run-hangup-handler', target: 'vca-hangup,s,1' },
        { kind: 'curl', url: 'http://127.0.0.1:8788/call-ended', postdata: expect.any(String) },
      ]);
      const seconds = Math.floor(READY + talk);
      const { fields, event } = callEnded(channel);
      expect(fields).toMatchObject({
        call_id: UNIQUEID,
        hangup_cause: '16',
        billsec: String(talk),
        duration: String(seconds),
        timestamp: String(Number(EPOCH) + seconds),
      });
      expect(event).toMatchObject({ duration_seconds: talk, hangup_cause: 16 });
      expect(recordedAs(event)).toBe('ended');
      expect(warnings(channel)).toEqual([]);
      expect(channel.unsetReads).toEqual([]);
    });
  }

  it('a connection that breaks mid-call ends it with cause 38, the talk time still posted', () => {
    const channel = call({ handOff: HAND_OFF.connectionLostDuringSession });
    expect(channel.hangupCause).toBe('38');
    const { event } = callEnded(channel);
    expect(event).toMatchObject({ duration_seconds: TALK, hangup_cause: 38 });
    expect(recordedAs(event)).toBe('ended');
  });

  const notStarted: [string, WebSocketCourse, string, string, number][] = [
    ['the bridge is down', HAND_OFF.bridgeDown, 'CHANUNAVAIL', '3', 0],
    ['the bridge refuses the upgrade', HAND_OFF.bridgeRefuses, 'CHANUNAVAIL', '3', 0],
    ['the connection breaks before the answer', HAND_OFF.connectionLostBeforeAnswer, 'CHANUNAVAIL', '38', 0.4],
    ['the bridge hangs up before answering', HAND_OFF.bridgeHangsUpBeforeAnswer, 'NOANSWER', '16', BRIDGE_SESSION_START_SECONDS],
    ['the bridge closes before answering', HAND_OFF.bridgeClosesBeforeAnswer, 'NOANSWER', '16', BRIDGE_SESSION_START_SECONDS],
    ['the bridge never answers', HAND_OFF.bridgeNeverAnswers, 'NOANSWER', '0', 3],
    ['the bridge answers after the timeout', HAND_OFF.bridgeAnswersTooLate, 'NOANSWER', '0', 3],
  ];

  for (const [what, handOff, status, cause, seconds] of notStarted) {
    it(`no session when ${what}: ${status}, a WARNING, Hangup(41) unanswered, call-ended once with talk time 0 and cause 41`, () => {
      const channel = call({ handOff });
      expect(channel.answered).toBe(false);
      expect(channel.hangupCause).toBe('41');
      const accepted = handOff.upgrade === 'accepted';
      expect(flowOf(channel)).toEqual([
        { kind: 'push-hangup-handler', target: 'vca-hangup,s,1' },
        { kind: 'curl', url: 'http://127.0.0.1:8788/inbound', postdata: expect.any(String) },
        { kind: 'ringing' },
        { kind: 'dial', data: DIAL_AT_RUN_TIME },
        ...(accepted ? [{ kind: 'media-start', message: expect.any(String) }] : []),
        { kind: 'dial-end', dialStatus: status },
        { kind: 'hangup', cause: '41' },
        { kind: 'run-hangup-handler', target: 'vca-hangup,s,1' },
        { kind: 'curl', url: 'http://127.0.0.1:8788/call-ended', postdata: expect.any(String) },
      ]);
      expect(warnings(channel)).toEqual([
        `VCA: call ${UNIQUEID} (${CALL_RECORD_ID}) got no AI session (DIALSTATUS ${status}, cause ${cause}). Rejected with cause 41.`,
      ]);
      const { fields, event } = callEnded(channel);
      expect(fields).toMatchObject({ billsec: '0', hangup_cause: '41', duration: String(Math.floor(seconds)) });
      expect(recordedAs(event)).toBe('failed');
      expect(channel.unsetReads).toEqual([]);
    });
  }

  it('a caller who hangs up while the session starts: CANCEL, the dialplan stops (no warning, no Hangup(41)), call-ended once', () => {
    const channel = call({ handOff: HAND_OFF.callerHangsUpWhileStarting });
    expect(channel.answered).toBe(false);
    expect(flowOf(channel)).toEqual([
      { kind: 'push-hangup-handler', target: 'vca-hangup,s,1' },
      { kind: 'curl', url: 'http://127.0.0.1:8788/inbound', postdata: expect.any(String) },
      { kind: 'ringing' },
      { kind: 'dial', data: DIAL_AT_RUN_TIME },
      { kind: 'media-start', message: expect.any(String) },
      { kind: 'dial-end', dialStatus: 'CANCEL' },
      { kind: 'hangup', cause: '127' },
      { kind: 'run-hangup-handler', target: 'vca-hangup,s,1' },
      { kind: 'curl', url: 'http://127.0.0.1:8788/call-ended', postdata: expect.any(String) },
    ]);
    expect(warnings(channel)).toEqual([]);
    expect(callEnded(channel).fields).toMatchObject({ billsec: '0', hangup_cause: '127', duration: '1' });
  });

  it('DIALSTATUS is what Dial left: ANSWER, CHANUNAVAIL, NOANSWER or CANCEL', () => {
    expect(dialStatus(call({ handOff: HAND_OFF.sessionEndsCall }))).toEqual({ kind: 'dial-end', dialStatus: 'ANSWER' });
    expect(call({ handOff: HAND_OFF.sessionEndsCall }).substitute('${DIALSTATUS}')).toBe('ANSWER');
    expect(call({ handOff: HAND_OFF.bridgeDown }).substitute('${DIALSTATUS}')).toBe('CHANUNAVAIL');
    expect(call({ handOff: HAND_OFF.bridgeNeverAnswers }).substitute('${DIALSTATUS}')).toBe('NOANSWER');
    expect(call({ handOff: HAND_OFF.callerHangsUpWhileStarting }).substitute('${DIALSTATUS}')).toBe('CANCEL');
  });

  it('logs of the hand-off name the call, never the caller', () => {
    for (const handOff of Object.values(HAND_OFF)) {
      const channel = call({ handOff });
      for (const text of channel.logs) expect(text).not.toContain('9812345678');
    }
  });

  describe('what each choice buys (the checks have teeth)', () => {
    const variant = (from: string, to: string) => {
      expect(extensionsText).toContain(from);
      return parseDialplan(extensionsText.replace(from, to));
    };
    const mediaStartOf = (dialplan: Dialplan) => {
      let mediaStart = '';
      call(
        {
          handOff: (dial) => {
            mediaStart = dial.mediaStart;
            return HAND_OFF.sessionEndsCall;
          },
        },
        dialplan,
      );
      return mediaStart;
    };

    it('without n the WebSocket answers itself: a session that never started is an answered, billed call', () => {
      const channel = call({ handOff: HAND_OFF.bridgeHangsUpBeforeAnswer }, variant('c(ulaw)nf(json)', 'c(ulaw)f(json)'));
      expect(channel.answered).toBe(true);
      expect(warnings(channel)).toEqual([]);
      const { event } = callEnded(channel);
      expect(event).toMatchObject({ duration_seconds: 2, hangup_cause: 16 });
      expect(recordedAs(event)).toBe('ended');
    });

    it('with Answer() instead of Ringing() a failed start is answered first: billed, and recorded as ended', () => {
      const channel = call({ handOff: HAND_OFF.bridgeNeverAnswers }, variant(' same => n,Ringing()', ' same => n,Answer()'));
      expect(channel.hangupCause).toBe('41');
      const { event } = callEnded(channel);
      expect(event).toMatchObject({ duration_seconds: 3, hangup_cause: 41 });
      expect(recordedAs(event)).toBe('ended');
    });

    it('without f(json) MEDIA_START is one plain line: the bridge could not tell which call it is', () => {
      const mediaStart = mediaStartOf(variant('c(ulaw)nf(json)', 'c(ulaw)n'));
      expect(mediaStart).toMatch(
        /^MEDIA_START connection_id:vca-media channel:WebSocket\/vca-media\/0x[0-9a-f]+ channel_id:\S+ format:ulaw /,
      );
      expect(mediaStart).not.toContain(CALL_RECORD_ID);
    });

    it("without c(ulaw) the channel takes the trunk's A-law", () => {
      expect(JSON.parse(mediaStartOf(variant('c(ulaw)nf(json)', 'nf(json)'))).format).toBe('alaw');
    });

    it('__ keeps the underscores in MEDIA_START, no _ keeps the variable at home', () => {
      const doubled = JSON.parse(mediaStartOf(variant('Set(_VCA_CALL_ID=', 'Set(__VCA_CALL_ID='))).channel_variables;
      expect(doubled).toHaveProperty('__VCA_CALL_ID', UNIQUEID);
      expect(doubled).not.toHaveProperty('VCA_CALL_ID');
      const local = JSON.parse(mediaStartOf(variant('Set(_VCA_TENANT_ID=', 'Set(VCA_TENANT_ID='))).channel_variables;
      expect(local).not.toHaveProperty('VCA_TENANT_ID');
    });

    it('without a timeout nothing bounds the wait for a session; v() is refused by the model', () => {
      expect(() => call({ handOff: HAND_OFF.bridgeNeverAnswers }, variant(',${VCA_SESSION_START_SECONDS},', ',,'))).toThrow(
        /waits forever/,
      );
      expect(() => call({}, variant('nf(json)', 'nf(json)v(call=${VCA_CALL_RECORD_ID})'))).toThrow(/option v is not modelled/);
    });
  });
});

describe('extensions.conf: a hostile caller id cannot break the request', () => {
  const HOSTILE = '"Eve" <+1&x=2>, ñ';

  it('URIENCODE as Asterisk does it equals encodeURIComponent on text', () => {
    const samples = [
      HOSTILE,
      "a-_.!~*'()b",
      ' %+/?#[]@;:$,=&\\',
      'ñ€😀',
      String.fromCharCode(...Array.from({ length: 95 }, (_, i) => i + 32)),
    ];
    for (const sample of samples) expect(uriEncode(sample)).toBe(encodeURIComponent(sample));
  });

  it('(h) /inbound: the body parses back to the same fields, caller_number intact', () => {
    const channel = call({ callerNumber: HOSTILE });
    const [request] = channel.requests('/inbound');
    // The exact body: the parsed template, each ${URIENCODE(X)} replaced by X's value encoded
    // (${EPOCH} as it was when the call arrived: the clock has moved on since).
    const atArrival = (expression: string) => (expression === '${EPOCH}' ? EPOCH : channel.substitute(expression));
    const expected = (inboundCall?.fields ?? [])
      .map(({ name, value }) => `${name}=${uriEncode(atArrival(value.slice('${URIENCODE('.length, -')}'.length)))}`)
      .join('&');
    expect(expected).toContain('caller_number=%22Eve%22%20%3C%2B1%26x%3D2%3E%2C%20%C3%B1&');
    expect(request?.postdata).toBe(expected);
    const params = new URLSearchParams(request?.postdata);
    expect([...params.keys()].sort()).toEqual([...INBOUND_FIELDS].sort());
    expect(params.get('caller_number')).toBe(HOSTILE);
    const parsed = parseInbound(Object.fromEntries(params));
    expect(parsed.success).toBe(true);
    expect(parsed.data?.caller_number).toBe(HOSTILE);
    expect(channel.answered).toBe(true);
  });

  it('(h) /call-ended: the body parses back to the same fields, caller_number intact', () => {
    const channel = call({ callerNumber: HOSTILE });
    const params = new URLSearchParams(channel.requests('/call-ended')[0]?.postdata);
    expect([...params.keys()].sort()).toEqual([...CALL_ENDED_FIELDS].sort());
    expect(params.get('caller_number')).toBe(HOSTILE);
    expect(parseCallEnded(Object.fromEntries(params)).success).toBe(true);
  });

  it('(h) the check has teeth: without URIENCODE a caller id injects a field, loses its +, or cuts the body short', () => {
    const unprotected = parseDialplan(extensionsText.replace(/\$\{URIENCODE\((\$\{[^}]+\})\)\}/g, '$1'));
    const injected = new URLSearchParams(call({ callerNumber: HOSTILE }, unprotected).requests('/inbound')[0]?.postdata);
    expect(injected.get('caller_number')).toBe('"Eve" < 1');
    expect(injected.get('x')).toBe('2>, ñ');
    // ')' then ':' ends the CURL() expression early (parse_variable_name): only the caller is posted.
    const cut = new URLSearchParams(call({ callerNumber: '1):2' }, unprotected).requests('/inbound')[0]?.postdata);
    expect([...cut.keys()]).toEqual(['caller_number']);
  });

  it('a caller id built against Asterisk\'s own parser (")" then ":") is lost, but adds or removes no field', () => {
    // parse_variable_name reads "URIENCODE(1):2)" as URIENCODE(1) with offset 2: the value is
    // emptied before encoding. Nothing else changes, and an empty caller_number is stored as null.
    const channel = call({ callerNumber: '1):2&x=y' });
    const params = new URLSearchParams(channel.requests('/inbound')[0]?.postdata);
    expect([...params.keys()].sort()).toEqual([...INBOUND_FIELDS].sort());
    expect(params.get('caller_number')).toBe('');
    expect(parseInbound(Object.fromEntries(params)).success).toBe(true);
  });
});

describe('pjsip.conf', () => {
  const sections = parseConfig(pjsipText);
  const get = (section: ConfigSection | undefined, key: string) => section?.settings.filter(([k]) => k === key).map(([, v]) => v) ?? [];
  const ofType = (type: string) => sections.filter((section) => get(section, 'type')[0] === type);
  const endpoint = ofType('endpoint').find((section) => section.name === 'tata-trunk');

  it('(g) endpoint tata-trunk lands in from-tata-trunk with ulaw, alaw and g729 only', () => {
    expect(get(endpoint, 'context')).toEqual(['from-tata-trunk']);
    expect(get(endpoint, 'disallow')).toEqual(['all']);
    const codecs = get(endpoint, 'allow').flatMap((value) => value.split(',').map((codec) => codec.trim()));
    expect([...codecs].sort()).toEqual(['alaw', 'g729', 'ulaw']);
    const keys = endpoint?.settings.map(([key]) => key) ?? [];
    expect(keys.indexOf('disallow')).toBeLessThan(keys.indexOf('allow'));
  });

  it('the endpoint suits a carrier trunk behind NAT and refers only to sections that exist', () => {
    expect(Object.fromEntries(endpoint?.settings ?? [])).toMatchObject({
      direct_media: 'no',
      rtp_symmetric: 'yes',
      force_rport: 'yes',
      rewrite_contact: 'yes',
      dtmf_mode: 'rfc4733',
    });
    expect(ofType('auth').map((s) => s.name)).toContain(get(endpoint, 'outbound_auth')[0]);
    expect(ofType('aor').map((s) => s.name)).toContain(get(endpoint, 'aors')[0]);
    expect(ofType('transport').map((s) => s.name)).toContain(get(endpoint, 'transport')[0]);
    const identify = ofType('identify');
    expect(identify.map((section) => get(section, 'endpoint')[0])).toEqual(['tata-trunk']);
  });

  it('UDP and TCP transports listen on 5060', () => {
    const transports = ofType('transport').map((section) => [get(section, 'protocol')[0], get(section, 'bind')[0]]);
    expect(transports).toEqual(
      expect.arrayContaining([
        ['udp', '0.0.0.0:5060'],
        ['tcp', '0.0.0.0:5060'],
      ]),
    );
  });

  it('(g) holds placeholders only: no real password, server or address', () => {
    // Commented lines too: a real secret must not sit in a comment either.
    const passwords = [...pjsipText.matchAll(/^\s*;?\s*password\s*=\s*(\S*)/gm)].map((m) => m[1]);
    expect(passwords.length).toBeGreaterThan(0);
    for (const password of passwords) expect(password).toMatch(/^(CHANGE_ME|<[A-Za-z_ ]+>)$/);
    const auth = ofType('auth')[0];
    expect(get(auth, 'username')).toEqual(['TATA_SIP_USERNAME']);
    expect(get(ofType('aor')[0], 'contact')).toEqual(['sip:TATA_SIP_SERVER:5060']);
    // identify: documentation ranges only (RFC 5737), never a real carrier address.
    const addresses = ofType('identify').flatMap((section) => get(section, 'match').flatMap((value) => value.split(',')));
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) expect(address.trim()).toMatch(/^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}(\/\d+)?$/);
  });

  it('says where the real file lives and keeps a TLS variant ready', () => {
    expect(pjsipText).toContain('/etc/asterisk/pjsip.conf');
    expect(pjsipText).toMatch(/chmod 640/);
    expect(pjsipText).toMatch(/^;\s*protocol=tls$/m);
    expect(pjsipText).toMatch(/^;\s*bind=0\.0\.0\.0:5061$/m);
  });
});

describe('websocket_client.conf', () => {
  const sections = parseConfig(websocketClientText);
  const settings = Object.fromEntries(sections[0]?.settings ?? []);

  it('holds one connection, vca-media: the one the dialplan dials', () => {
    expect(sections.map((section) => section.name)).toEqual([plan.globals.get('VCA_MEDIA_CONNECTION')]);
    // Each option once: a repeated one would silently win or lose.
    const keys = sections[0]?.settings.map(([key]) => key) ?? [];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('is a per-call WebSocket to /media on the bridge listener of VCA_BRIDGE_URL, subprotocol media', () => {
    expect(settings).toMatchObject({
      type: 'websocket_client',
      connection_type: 'per_call_config',
      uri: 'ws://127.0.0.1:8788/media',
      protocols: 'media',
      tls_enabled: 'no',
    });
    const uri = new URL(settings.uri ?? '');
    expect(uri.host).toBe(new URL(plan.globals.get('VCA_BRIDGE_URL') ?? '').host);
    expect(uri.search).toBe('');
  });

  it('fails fast when the bridge is not there: one try, a short connect timeout', () => {
    expect(settings.reconnect_attempts).toBe('1');
    expect(Number(settings.connection_timeout)).toBeGreaterThan(0);
    expect(Number(settings.connection_timeout)).toBeLessThanOrEqual(1000);
  });

  it('commits no credentials: username and password only as commented placeholders', () => {
    for (const key of ['username', 'password', 'priv_key_file', 'cert_file']) expect(settings).not.toHaveProperty(key);
    const commented = [...websocketClientText.matchAll(/^\s*;\s*(username|password)\s*=\s*(\S*)/gm)].map((m) => [m[1], m[2]]);
    expect(commented).toEqual([
      ['username', 'vca'],
      ['password', 'CHANGE_ME'],
    ]);
  });

  it('says where it is installed', () => {
    expect(websocketClientText).toContain('/etc/asterisk/websocket_client.conf');
  });
});
