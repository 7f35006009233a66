// Dial(WebSocket/...) for the dialplan model (asterisk-dialplan.ts): what app_dial.c, chan_websocket.c
// and the bridging core decide when a call's audio is handed to the bridge, given what the bridge and
// the caller do and when. It is a timeline, not a clock: the course of the hand-off says at which
// second the bridge answers, hangs up or the caller leaves, and the earliest event wins as Asterisk's
// wait_for_answer() loop and the bridge would let it. Only one WebSocket destination and the options
// the dialplan uses are modelled; anything else throws. Lines cited are Asterisk tag 22.10.1.

/** A section of websocket_client.conf (res_websocket_client), as parseConfig reads it. */
export interface WebSocketClientSection {
  name: string;
  settings: [string, string][];
}

/** What the bridge meets when Asterisk dials it: the upgrade, then MEDIA_START if it is accepted. */
export interface WebSocketDial {
  /** The websocket_client.conf section, also MEDIA_START's connection_id. */
  connectionId: string;
  uri: string;
  /** Sent as Sec-WebSocket-Protocol. */
  protocols: string | undefined;
  /** The first message after a 101, exactly as chan_websocket prints it (chan_websocket.c:226-256). */
  mediaStart: string;
  /** false with the dial string's n: the channel is answered only by the bridge's ANSWER. */
  autoAnswer: boolean;
}

/**
 * How a hand-off goes. Seconds count from the moment Dial placed the call (connect and MEDIA_START
 * take no time on loopback). Two events at the same second are a race the model refuses to decide.
 */
export interface WebSocketCourse {
  /**
   * accepted: 101, then MEDIA_START. unreachable: nothing listens (connection refused). refused: the
   * upgrade is answered with anything but a good 101 (404, 503, another subprotocol, extensions).
   */
  upgrade: 'accepted' | 'unreachable' | 'refused';
  /** When the bridge sends ANSWER. Never, if absent. */
  answerAfter?: number;
  /** When the bridge ends the channel: its HANGUP command or its CLOSE (cause 16), or the connection breaks (38). */
  bridgeEnds?: { after: number; how: 'hangup' | 'close' | 'connection-lost' };
  /** When the caller hangs up, and the cause chan_pjsip leaves on the channel (0 for a BYE: chan_pjsip.c:2952-3080). */
  callerHangsUp?: { after: number; cause: number };
}

/** The WebSocket channel Dial created. */
export interface WebSocketChannel {
  name: string;
  uniqueId: string;
  /** Its variables when MEDIA_START was built, in Asterisk's list order: what JSON MEDIA_START's channel_variables holds. */
  variables: Record<string, string>;
  /** What the bridge received first; undefined if the upgrade failed. */
  mediaStart: string | undefined;
}

export type DialStatus = 'ANSWER' | 'NOANSWER' | 'CHANUNAVAIL' | 'CANCEL';

export interface DialRequest {
  /** Dial()'s first three arguments, already split as dial_exec_full splits them. */
  peers: string;
  timeout: string;
  options: string;
  /** The calling channel's variables, full names (with their underscores), newest first as its varshead. */
  callerVariables: [string, string][];
  /** ast_channel_hangupcause of the calling channel before Dial. */
  callerCause: number;
  /** The first format of the caller's capabilities: what the trunk negotiated. */
  callerCodec: string;
  /** The uniqueid the WebSocket channel gets. */
  uniqueId: string;
  websocketClients: WebSocketClientSection[];
  course(dial: WebSocketDial): WebSocketCourse;
}

export interface DialOutcome {
  dialStatus: DialStatus;
  /** ast_channel_hangupcause of the calling channel when Dial returns: ${HANGUPCAUSE} from then on. */
  callerCause: number;
  /** Seconds from the start of Dial to the answer, when the session answered and was bridged. */
  answeredAfter: number | undefined;
  /** Seconds from the start of Dial until it returned. */
  elapsed: number;
  /** What Dial returns: 0 and the dialplan goes on, -1 and it stops (the channel is hung up). */
  result: 0 | -1;
  /** DIALEDPEERNAME / DIALEDPEERNUMBER, set on the caller when the peer answered (app_dial.c:3066-3076). */
  peer: { name: string; number: string } | undefined;
  webSocket: WebSocketChannel | undefined;
}

const AST_CAUSE_NO_ROUTE_DESTINATION = 3;
const AST_CAUSE_NORMAL_CLEARING = 16;
const AST_CAUSE_FAILURE = 38;

/** main/codec_builtin.c: the formats the model knows, and chan_websocket.c:1410's frame size (default_ms × minimum_bytes / minimum_ms). */
const CODECS: Record<string, { frameBytes: number; ptime: number }> = {
  ulaw: { frameBytes: 160, ptime: 20 },
  alaw: { frameBytes: 160, ptime: 20 },
};

let pointer = 0x7f3a5c001000;

export function dialWebSocket(request: DialRequest): DialOutcome {
  const fail = (dialStatus: DialStatus, callerCause: number): DialOutcome => ({
    dialStatus,
    callerCause,
    answeredAfter: undefined,
    elapsed: 0,
    result: 0,
    peer: undefined,
    webSocket: undefined,
  });

  // dial_exec_full: one destination, technology/resource (app_dial.c:2629-2650).
  if (request.peers.includes('&')) throw new Error('Dial() to more than one destination is not modelled');
  const slash = request.peers.indexOf('/');
  const tech = slash < 0 ? request.peers : request.peers.slice(0, slash);
  if (tech.toLowerCase() !== 'websocket') throw new Error(`Dial(${tech}/...) is not modelled`);
  const number = request.peers.slice(slash + 1);

  const dialOptions = parseOptions(request.options, 'S', 'Dial');
  let limit: number | undefined;
  if (dialOptions.has('S')) {
    // app_dial.c:2475-2483: atoi; 0 makes Dial log a warning and return -1 at once.
    limit = Number.parseInt(dialOptions.get('S') ?? '', 10);
    if (!(limit > 0)) throw new Error(`Dial's S(${dialOptions.get('S')}) is refused by Dial, which is not modelled`);
  }
  const timeout = answerTimeout(request.timeout);

  // webchan_request (chan_websocket.c:1543-1737): connection id and options split at the first '/'.
  const optionSlash = number.indexOf('/');
  const connectionId = optionSlash < 0 ? number : number.slice(0, optionSlash);
  const wsOptions = parseOptions(optionSlash < 0 ? '' : number.slice(optionSlash + 1), 'cnf', 'WebSocket');
  if (connectionId === '' || connectionId === 'INCOMING') throw new Error(`WebSocket/${connectionId} is not modelled`);
  const codec = wsOptions.get('c') || request.callerCodec;
  const format = CODECS[codec];
  if (!format) throw new Error(`the ${codec} format is not modelled`);
  // control_msg_format_from_str: json or plain-text, any case; anything else falls back to plain-text.
  // Without f(), chan_websocket.conf's default control_message_format, plain-text.
  const json = wsOptions.has('f') && (wsOptions.get('f') ?? '').toLowerCase() === 'json';
  const autoAnswer = !wsOptions.has('n');

  // websocket_new: an unknown connection fails the request with AST_CAUSE_FAILURE (chan_websocket.c:1375-1381,
  // 1735); Dial logs "Unable to create channel", sets the cause on the caller, DIALSTATUS CHANUNAVAIL
  // and returns 0 (app_dial.c:2736-2745, 2981-2986, 1273-1290).
  const client = request.websocketClients.find(
    (section) => section.name === connectionId && setting(section, 'type') === 'websocket_client',
  );
  if (!client) return fail('CHANUNAVAIL', AST_CAUSE_FAILURE);
  const uri = setting(client, 'uri');
  if (!uri) throw new Error(`websocket_client ${connectionId} has no uri`);

  // The WebSocket channel's variables, in list order (each setvar inserts at the head, inheritance
  // appends at the tail): set_channel_variables (chan_websocket.c:1469-1484), then DIALEDPEERNUMBER
  // (app_dial.c:2762), then ast_channel_inherit_variables (main/channel.c:6793-6833): _NAME arrives
  // as NAME, __NAME as __NAME, anything else stays behind.
  const variables: [string, string][] = [
    ['DIALEDPEERNUMBER', number],
    ['MEDIA_WEBSOCKET_CONNECTION_ID', connectionId],
    ['MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE', String(format.frameBytes)],
  ];
  for (const [name, value] of request.callerVariables) {
    if (name.startsWith('__')) variables.push([name, value]);
    else if (name.startsWith('_')) variables.push([name.slice(1), value]);
  }
  const webSocket: WebSocketChannel = {
    name: `WebSocket/${connectionId}/0x${(pointer++).toString(16)}`,
    uniqueId: request.uniqueId,
    variables: Object.fromEntries(variables),
    mediaStart: undefined,
  };
  const mediaStart = json
    ? JSON.stringify({
        event: 'MEDIA_START',
        connection_id: connectionId,
        channel: webSocket.name,
        channel_id: webSocket.uniqueId,
        format: codec,
        optimal_frame_size: format.frameBytes,
        ptime: format.ptime,
        channel_variables: webSocket.variables,
      })
    : `MEDIA_START connection_id:${connectionId} channel:${webSocket.name} channel_id:${webSocket.uniqueId} format:${codec} optimal_frame_size:${format.frameBytes} ptime:${format.ptime}`;

  const course = request.course({ connectionId, uri, protocols: setting(client, 'protocols'), mediaStart, autoAnswer });
  if (course.upgrade !== 'accepted') {
    if (course.answerAfter !== undefined || course.bridgeEnds || course.callerHangsUp) {
      throw new Error('events after a failed upgrade are not modelled');
    }
    // webchan_call: the connection failed, cause AST_CAUSE_NO_ROUTE_DESTINATION (chan_websocket.c:1276-1282);
    // Dial copies it to the caller (app_dial.c:2921-2928), nobody is left: CHANUNAVAIL, 0.
    return { ...fail('CHANUNAVAIL', AST_CAUSE_NO_ROUTE_DESTINATION), webSocket };
  }
  webSocket.mediaStart = mediaStart;
  const base = { webSocket, result: 0 as const, peer: undefined, answeredAfter: undefined };

  // wait_for_answer (app_dial.c:1209-2030): the first of these ends the wait. Without n the channel
  // answers itself right after MEDIA_START (chan_websocket.c:1173-1176).
  const answerAt = autoAnswer ? 0 : course.answerAfter;
  const waiting = earliest([
    ['answer', answerAt],
    ['bridge-ends', course.bridgeEnds?.after],
    ['caller', course.callerHangsUp?.after],
    ['timeout', timeout],
  ]);
  if (!waiting) throw new Error('the Dial waits forever: no answer, no end and no timeout');
  const [first, at] = waiting;
  if (first === 'timeout') {
    // The loop runs out: hanguptree closes the WebSocket (CLOSE 1000), the caller's cause is left as it was.
    return { ...base, dialStatus: 'NOANSWER', callerCause: request.callerCause, elapsed: at };
  }
  if (first === 'bridge-ends') {
    // ast_read fails on the hung-up channel: its cause goes to the caller (app_dial.c:1394-1401).
    // 16 counts for nothing in handle_cause, so the status stays NOANSWER; 38 counts as "no channel".
    const cause = course.bridgeEnds?.how === 'connection-lost' ? AST_CAUSE_FAILURE : AST_CAUSE_NORMAL_CLEARING;
    return { ...base, dialStatus: cause === AST_CAUSE_NORMAL_CLEARING ? 'NOANSWER' : 'CHANUNAVAIL', callerCause: cause, elapsed: at };
  }
  if (first === 'caller') {
    // The caller's hangup: CANCEL, its cause kept, and -1, so the dialplan stops (app_dial.c:1800-1817, 3021-3028).
    const cause = course.callerHangsUp?.cause ?? 0;
    return { ...base, dialStatus: 'CANCEL', callerCause: cause || request.callerCause, elapsed: at, result: -1 };
  }

  // Answered: Dial answers the caller (features.c pre_bridge_setup) and bridges it. S() hangs the
  // WebSocket channel up that long after the answer (app_dial.c:3346-3351). Whoever leaves first
  // dissolves the bridge; the caller's cause, if still 0, becomes the leaving channel's cause or 16
  // (bridge_channel.c:279-300 channel_set_cause, bridge.c:337-373). ast_bridge_call returns -1
  // (features.c:666), so the dialplan stops after a bridged call.
  const bridged = earliest([
    ['bridge-ends', after(course.bridgeEnds?.after, at)],
    ['caller', after(course.callerHangsUp?.after, at)],
    ['limit', limit === undefined ? undefined : at + limit],
  ]);
  if (!bridged) throw new Error('the bridged call never ends: no end and no S()');
  const [end, endAt] = bridged;
  const leaving =
    end === 'bridge-ends'
      ? course.bridgeEnds?.how === 'connection-lost'
        ? AST_CAUSE_FAILURE
        : AST_CAUSE_NORMAL_CLEARING
      : end === 'caller'
        ? (course.callerHangsUp?.cause ?? 0)
        : 0; // a timed-out channel has no cause of its own (channel.c:446-458)
  const callerCause = request.callerCause > 0 ? request.callerCause : leaving > 0 ? leaving : AST_CAUSE_NORMAL_CLEARING;
  return {
    dialStatus: 'ANSWER',
    callerCause,
    answeredAfter: at,
    elapsed: endAt,
    result: -1,
    peer: { name: webSocket.name, number },
    webSocket,
  };
}

/** Dial's timeout argument (app_dial.c:2950-2979): seconds > 0, else none (a warning, then infinite). */
function answerTimeout(text: string): number | undefined {
  if (text.includes('^')) throw new Error('a progress timeout is not modelled');
  const seconds = Number.parseFloat(text);
  return seconds > 0 ? seconds : undefined;
}

/** An event that happens after `from`, or none. Before it, the wait already dealt with it. */
function after(at: number | undefined, from: number): number | undefined {
  return at !== undefined && at > from ? at : undefined;
}

function earliest<T extends string>(candidates: [T, number | undefined][]): [T, number] | undefined {
  const present = candidates.filter((candidate): candidate is [T, number] => candidate[1] !== undefined);
  present.sort((a, b) => a[1] - b[1]);
  const [first, second] = present;
  if (first && second && first[1] === second[1])
    throw new Error(`${first[0]} and ${second[0]} at the same second: a race the model does not decide`);
  return first;
}

/** ast_app_parse_options (main/app.c:2984-3070): letters, each with an optional (argument). */
function parseOptions(text: string, modelled: string, what: string): Map<string, string> {
  const options = new Map<string, string>();
  for (let i = 0; i < text.length; ) {
    const letter = text[i++] as string;
    if (!modelled.includes(letter)) throw new Error(`${what} option ${letter} is not modelled`);
    let argument = '';
    if (text[i] === '(') {
      let depth = 1;
      let j = i + 1;
      for (; j < text.length && depth > 0; j++) {
        if (text[j] === '"' || text[j] === '\\') throw new Error(`quotes and backslashes in ${what} options are not modelled`);
        if (text[j] === '(') depth++;
        else if (text[j] === ')') depth--;
      }
      if (depth > 0) throw new Error(`missing ) in ${what} options ${text}`);
      argument = text.slice(i + 1, j - 1);
      i = j;
    }
    options.set(letter, argument);
  }
  return options;
}

function setting(section: WebSocketClientSection, key: string): string | undefined {
  return section.settings.find(([name]) => name === key)?.[1];
}
