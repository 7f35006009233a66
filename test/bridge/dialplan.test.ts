// The dialplan is the other half of the bridge's contract. This suite checks the shape of
// asterisk/extensions.conf and asterisk/pjsip.conf, and runs the dialplan against every answer the
// bridge can give, in the model of Asterisk's PBX in test/support/asterisk-dialplan.ts.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Asterisk dialplan, where ${...} is literal syntax
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CALL_ENDED_FIELDS, INBOUND_FIELDS, parseCallEnded, parseInbound } from '../../bridge/asterisk.ts';
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
} from '../support/asterisk-dialplan.ts';

const extensionsText = readFileSync(new URL('../../asterisk/extensions.conf', import.meta.url), 'utf8');
const pjsipText = readFileSync(new URL('../../asterisk/pjsip.conf', import.meta.url), 'utf8');

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
const curlCalls = findCurlCalls(plan);
const inboundCall = curlCalls.find((call) => call.url.endsWith('/inbound'));
const callEndedCall = curlCalls.find((call) => call.url.endsWith('/call-ended'));

const CALL_RECORD_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const TENANT_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const PROFILE_ID = '3b241101-e2bb-4255-8caf-4136c566a962';
const SUCCESS = `status=success&call_record_id=${CALL_RECORD_ID}&tenant_id=${TENANT_ID}&ai_profile_id=${PROFILE_ID}&ai_profile_role=receptionist`;

const UNIQUEID = '1706556789.123';
const EPOCH = '1706556789';

/** A call from Tata, and how the bridge and the caller behave during it. */
interface Scenario {
  /** The Request-URI user part, as Tata sends it. */
  exten: string;
  callerNumber: string;
  /** The bridge's raw answer body to POST /inbound; '' is no answer at all (bridge down). */
  inboundAnswer: string;
  callEndedAnswer?: string;
  /** The caller hangs up during Wait() with this cause instead of waiting it out. */
  callerHangsUpWithCause?: string;
  /**
   * The caller hangs up with this cause while the /inbound CURL is in flight. As in Asterisk, the
   * CURL still completes and the Set() stores its answer; the channel is then hung up before the
   * next priority runs, and the hangup handlers run.
   */
  callerHangsUpDuringLookupWithCause?: string;
}

function call(overrides: Partial<Scenario> = {}, dialplan: Dialplan = plan): Channel {
  const scenario: Scenario = { exten: '+919876543210', callerNumber: '+919812345678', inboundAnswer: SUCCESS, ...overrides };
  const arrival = {
    context: 'from-tata-trunk',
    exten: scenario.exten,
    callerNumber: scenario.callerNumber,
    uniqueId: UNIQUEID,
    epoch: EPOCH,
  };
  return new Channel(dialplan, arrival, {
    curl({ url }, channel) {
      if (url.endsWith('/inbound')) {
        if (scenario.callerHangsUpDuringLookupWithCause !== undefined) channel.callerHangsUp(scenario.callerHangsUpDuringLookupWithCause);
        return scenario.inboundAnswer;
      }
      if (url.endsWith('/call-ended')) return scenario.callEndedAnswer ?? 'status=queued';
      throw new Error(`nothing answers at ${url}`);
    },
    wait(_seconds, channel) {
      if (scenario.callerHangsUpWithCause !== undefined) channel.callerHangsUp(scenario.callerHangsUpWithCause);
    },
  }).run();
}

describe('extensions.conf: shape', () => {
  it('parses into [general], [globals] and the three contexts', () => {
    expect([...plan.contexts.keys()].sort()).toEqual(['from-tata-trunk', 'vca-hangup', 'vca-inbound']);
    expect(plan.general.get('writeprotect')).toBe('yes');
  });

  it('(a) [globals] holds the bridge address and the hold time', () => {
    expect(plan.globals.get('VCA_BRIDGE_URL')).toBe('http://127.0.0.1:8788');
    expect(plan.globals.get('VCA_HOLD_SECONDS')).toBe('30');
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

describe('extensions.conf: call flow', () => {
  const inbound = plan.contexts.get('vca-inbound')?.get('s') ?? [];
  const indexOf = (predicate: (step: Step) => boolean) => inbound.findIndex(predicate);
  /** The events that make up a call's course: no logs, no CURL options. */
  const flowOf = (channel: Channel) => channel.events.filter((e) => e.kind !== 'log' && e.kind !== 'curlopt');

  it('(d) hashcompat and short timeouts are set before the /inbound CURL, which comes before Answer()', () => {
    const curl = indexOf((step) => step === inboundCall?.step);
    const hashcompat = indexOf((step) => step.app === 'Set' && step.data === 'CURLOPT(hashcompat)=yes');
    const successCheck = indexOf((step) => step.app === 'GotoIf' && step.data.includes('"success"'));
    const answers = allSteps(plan).filter((step) => step.app === 'Answer');
    expect(hashcompat).toBeGreaterThanOrEqual(0);
    expect(hashcompat).toBeLessThan(curl);
    expect(successCheck).toBeGreaterThan(curl);
    expect(answers).toHaveLength(1);
    expect(inbound.indexOf(answers[0] as Step)).toBeGreaterThan(successCheck);

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

  it('(d) at run time: options, then the question, then the answer, then Answer()', () => {
    const channel = call();
    const kinds = channel.events.filter((e) => e.kind !== 'log').map((e) => (e.kind === 'curlopt' ? `${e.name}=${e.value}` : e.kind));
    const firstCurl = kinds.indexOf('curl');
    expect(kinds.indexOf('hashcompat=yes')).toBeLessThan(firstCurl);
    expect(kinds.indexOf('answer')).toBeGreaterThan(firstCurl);
    expect(channel.events.find((e) => e.kind === 'curl')).toMatchObject({ url: 'http://127.0.0.1:8788/inbound' });
  });

  it('on success: handler pushed, routing variables set, answered, held for VCA_HOLD_SECONDS, hung up with 16, end posted', () => {
    const channel = call();
    const substitute = (text: string) => channel.substitute(text);
    expect(substitute('${VCA_CALL_RECORD_ID}')).toBe(CALL_RECORD_ID);
    expect(substitute('${VCA_TENANT_ID}')).toBe(TENANT_ID);
    expect(substitute('${VCA_AI_PROFILE_ID}')).toBe(PROFILE_ID);
    expect(substitute('${VCA_AI_PROFILE_ROLE}')).toBe('receptionist');
    expect(flowOf(channel)).toEqual([
      { kind: 'push-hangup-handler', target: 'vca-hangup,s,1' },
      { kind: 'curl', url: 'http://127.0.0.1:8788/inbound', postdata: expect.any(String) },
      { kind: 'answer' },
      { kind: 'wait', seconds: '30' },
      { kind: 'hangup', cause: '16' },
      { kind: 'run-hangup-handler', target: 'vca-hangup,s,1' },
      { kind: 'curl', url: 'http://127.0.0.1:8788/call-ended', postdata: expect.any(String) },
    ]);
    expect(channel.unsetReads).toEqual([]);
  });

  it('a success without an AI profile is still routed (empty profile fields)', () => {
    const channel = call({
      inboundAnswer: `status=success&call_record_id=${CALL_RECORD_ID}&tenant_id=${TENANT_ID}&ai_profile_id=&ai_profile_role=`,
    });
    expect(channel.answered).toBe(true);
    expect(channel.substitute('${VCA_AI_PROFILE_ID}')).toBe('');
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

  it('the hangup handler reports the real cause and talk time, and returns', () => {
    const channel = call();
    const fields = Object.fromEntries(new URLSearchParams(channel.requests('/call-ended')[0]?.postdata));
    const endedAt = String(Number(EPOCH) + 30);
    expect(fields).toMatchObject({ hangup_cause: '16', duration: '30', billsec: '30', timestamp: endedAt, call_id: UNIQUEID });
    const parsed = parseCallEnded(fields);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toMatchObject({ duration_seconds: 30, hangup_cause: 16, ended_at: Number(endedAt) });
  });

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
