// A small model of Asterisk's PBX, for checking asterisk/extensions.conf, pjsip.conf and
// websocket_client.conf without an Asterisk: it parses the files (sections, `exten =>`/`same =>`
// lines, priorities, labels) and runs the dialplan on a Channel whose surroundings the test supplies
// (the HTTP server CURL() reaches, what the bridge does with the call's WebSocket, what the caller
// does). The model follows Asterisk's own code where it matters for safety: ${...} substitution and
// variable-name parsing (pbx_variables.c), variables set with _ and __ (pbx_builtin_setvar_helper,
// chanvars.c), argument splitting (__ast_app_separate_args in app.c), URIENCODE (ast_uri_encode with
// ast_uri_http), CURL's hashcompat answer (func_curl.c), HASH (func_strings.c), the hangup cause
// (Hangup() in pbx_builtins.c, ${HANGUPCAUSE}), the CDR's duration and billsec (cdr.c), and
// Dial(WebSocket/...) in asterisk-dial.ts. It throws on any application, function or option it does
// not model, so the dialplan cannot quietly grow behaviour the tests do not check.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Asterisk dialplan, where ${...} is literal syntax
import { type DialStatus, dialWebSocket, type WebSocketChannel, type WebSocketCourse, type WebSocketDial } from './asterisk-dial.ts';

export type { DialStatus, WebSocketChannel, WebSocketCourse, WebSocketDial } from './asterisk-dial.ts';

// ---------------------------------------------------------------------------------------------
// extensions.conf parser

export interface Step {
  context: string;
  exten: string;
  priority: number;
  label: string | undefined;
  app: string;
  data: string;
  line: number;
}

export interface Dialplan {
  general: Map<string, string>;
  globals: Map<string, string>;
  /** context → extension → steps in priority order */
  contexts: Map<string, Map<string, Step[]>>;
}

/** A config line without its comment: ';' starts one unless escaped as '\;'. */
function stripComment(line: string): string {
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === ';') {
      if (line.startsWith(';--', i)) throw new Error('block comments (;-- --;) are not modelled');
      return line.slice(0, i);
    }
  }
  return line;
}

export function parseDialplan(text: string): Dialplan {
  const plan: Dialplan = { general: new Map(), globals: new Map(), contexts: new Map() };
  let section: string | undefined;
  let exten: string | undefined;
  const lastPriority = new Map<string, number>();

  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const content = stripComment(raw).trim();
    if (!content) return;

    const header = /^\[([^\]]+)\]$/.exec(content);
    if (header) {
      section = header[1] as string;
      exten = undefined;
      if (section !== 'general' && section !== 'globals') {
        if (plan.contexts.has(section)) throw new Error(`line ${line}: context [${section}] defined twice`);
        plan.contexts.set(section, new Map());
      }
      return;
    }
    if (!section) throw new Error(`line ${line}: content before the first section`);

    if (section === 'general' || section === 'globals') {
      const setting = /^([A-Za-z0-9_]+)\s*=>?\s*(.*)$/.exec(content);
      if (!setting) throw new Error(`line ${line}: not a setting: ${content}`);
      plan[section].set(setting[1] as string, (setting[2] as string).trim());
      return;
    }

    const directive = /^(exten|same)\s*=>\s*(.*)$/.exec(content);
    if (!directive) throw new Error(`line ${line}: unsupported dialplan line: ${content}`);
    let rest = directive[2] as string;
    if (directive[1] === 'exten') {
      const comma = rest.indexOf(',');
      exten = rest.slice(0, comma).trim();
      rest = rest.slice(comma + 1);
    } else if (!exten) {
      throw new Error(`line ${line}: same => without a preceding exten =>`);
    }
    const comma = rest.indexOf(',');
    const priorityText = rest.slice(0, comma).trim();
    const appText = rest.slice(comma + 1).trim();

    const priorityMatch = /^(\d+|n)(?:\(([A-Za-z0-9_-]+)\))?$/.exec(priorityText);
    if (!priorityMatch) throw new Error(`line ${line}: unsupported priority ${priorityText}`);
    const key = `${section},${exten}`;
    const previous = lastPriority.get(key);
    const priority = priorityMatch[1] === 'n' ? (previous ?? 0) + 1 : Number(priorityMatch[1]);
    if (priorityMatch[1] === 'n' && previous === undefined) throw new Error(`line ${line}: priority n before priority 1`);
    if (previous !== undefined && priority <= previous) throw new Error(`line ${line}: priorities must increase`);
    lastPriority.set(key, priority);

    // As pbx_config reads it: the application name, then everything up to the last ')'.
    const appMatch = /^([A-Za-z0-9_]+)(?:\((.*)\))?$/s.exec(appText);
    if (!appMatch) throw new Error(`line ${line}: cannot read the application in ${appText}`);

    const extensions = plan.contexts.get(section) as Map<string, Step[]>;
    const steps = extensions.get(exten) ?? [];
    extensions.set(exten, steps);
    const label = priorityMatch[2];
    if (label && steps.some((step) => step.label === label)) throw new Error(`line ${line}: label ${label} used twice`);
    steps.push({ context: section, exten, priority, label, app: appMatch[1] as string, data: appMatch[2] ?? '', line });
  });
  return plan;
}

/** Asterisk extension patterns: X, Z, N, [..], '.', '!'; '-' is ignored; anything else is literal. */
export function patternMatches(pattern: string, number: string): boolean {
  if (!pattern.startsWith('_')) return pattern === number;
  let source = '';
  for (let i = 1; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === 'X') source += '[0-9]';
    else if (c === 'Z') source += '[1-9]';
    else if (c === 'N') source += '[2-9]';
    else if (c === '.') source += '.+';
    else if (c === '!') source += '.*';
    else if (c === '-') continue;
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      source += `[${pattern.slice(i + 1, end).replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's').test(number);
}

export function allSteps(plan: Dialplan): Step[] {
  return [...plan.contexts.values()].flatMap((extensions) => [...extensions.values()].flat());
}

// ---------------------------------------------------------------------------------------------
// Pieces of Asterisk, modelled on its source

/** __ast_app_separate_args: how applications and functions split their arguments. */
function separateArgs(input: string, delim: string, removeChars: boolean, max: number): string[] {
  const out: string[] = [];
  let scan = 0;
  let paren = 0;
  let bracket = 0;
  let quote = false;
  let lastDelim = -1;
  for (let argc = 0; scan < input.length && argc < max - 1; argc++) {
    let arg = '';
    for (; scan < input.length; scan++) {
      const c = input[scan] as string;
      if (c === '(') paren++;
      else if (c === ')') {
        if (paren) paren--;
      } else if (c === '[') bracket++;
      else if (c === ']') {
        if (bracket) bracket--;
      } else if (c === '"' && delim !== '"') {
        quote = !quote;
        if (removeChars) continue;
      } else if (c === '\\') {
        if (removeChars) {
          scan++;
          arg += input[scan] ?? '';
          continue;
        }
        arg += c;
        scan++;
        arg += input[scan] ?? '';
        continue;
      } else if (c === delim && !paren && !quote && !bracket) {
        lastDelim = scan;
        scan++;
        break;
      }
      arg += c;
    }
    out.push(arg);
  }
  // The last argument takes the rest, unprocessed; a trailing delimiter makes an empty one.
  if (scan < input.length || (scan > 0 && scan - 1 === lastDelim)) out.push(input.slice(scan));
  return out;
}

/**
 * URIENCODE: ast_uri_encode(..., ast_uri_http), byte by byte; keeps alphanumerics and -_.!~*'().
 * Whatever posts to the bridge as Asterisk would (test/support/bridge.ts, tools/bench.ts) uses this one.
 */
export function uriEncode(text: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.!~*'()]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** ast_uri_decode, as CURL's hashcompat applies it to each name and value ('+' stays '+'). */
function uriDecode(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(...new TextEncoder().encode(text[i]));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** parse_variable_name: a ':' outside parentheses starts ":offset[:length]" — on the substituted text. */
function parseVariableName(name: string): { name: string; offset: number; length: number | undefined; isFunction: boolean } {
  let parens = 0;
  let isFunction = false;
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '(') {
      isFunction = true;
      parens++;
    } else if (c === ')') parens--;
    else if (c === ':' && parens === 0) {
      // sscanf(var, "%30d:%30d", &offset, &length): whatever does not parse keeps its default.
      const numbers = /^\s*([-+]?\d+)(?::\s*([-+]?\d+))?/.exec(name.slice(i + 1));
      const length = numbers?.[2];
      return {
        name: name.slice(0, i),
        offset: Number(numbers?.[1] ?? 0),
        length: length === undefined ? undefined : Number(length),
        isFunction,
      };
    }
  }
  return { name, offset: 0, length: undefined, isFunction };
}

/** Asterisk's substring(): negative offsets count from the end, negative lengths trim the end. */
function substring(value: string, offset: number, length: number | undefined): string {
  let start = offset < 0 ? Math.max(0, value.length + offset) : offset;
  if (start >= value.length) return '';
  start = Math.max(0, start);
  if (length === undefined) return value.slice(start);
  const end = length < 0 ? value.length + length : start + length;
  return value.slice(start, Math.max(start, end));
}

/** Asterisk's $[...] for what the dialplan uses: quoted strings, words, = != & | ( ). */
function evaluateExpression(text: string): string {
  const tokens: { kind: 'op' | 'value'; text: string }[] = [];
  for (let i = 0; i < text.length; ) {
    const c = text[i] as string;
    if (/\s/.test(c)) i++;
    else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new Error(`unterminated string in $[${text}]`);
      tokens.push({ kind: 'value', text: text.slice(i + 1, end) });
      i = end + 1;
    } else if (text.startsWith('!=', i)) {
      tokens.push({ kind: 'op', text: '!=' });
      i += 2;
    } else if ('=&|()'.includes(c)) {
      tokens.push({ kind: 'op', text: c });
      i++;
    } else if ('<>!+-*/%?:~,'.includes(c)) {
      throw new Error(`operator ${c} in $[${text}] is not modelled`);
    } else {
      const word = /^[^\s"=&|()<>!+\-*/%?:~,]+/.exec(text.slice(i))?.[0] as string;
      tokens.push({ kind: 'value', text: word });
      i += word.length;
    }
  }
  let position = 0;
  const isTrue = (value: string) => value !== '' && !(/^-?\d+(\.\d+)?$/.test(value) && Number(value) === 0);
  const peek = () => tokens[position];
  const primary = (): string => {
    const token = tokens[position++];
    if (!token) throw new Error(`incomplete expression $[${text}]`);
    if (token.kind === 'value') return token.text;
    if (token.text !== '(') throw new Error(`unexpected ${token.text} in $[${text}]`);
    const value = or();
    if (tokens[position++]?.text !== ')') throw new Error(`missing ) in $[${text}]`);
    return value;
  };
  const comparison = (): string => {
    const left = primary();
    const op = peek();
    if (op?.kind !== 'op' || (op.text !== '=' && op.text !== '!=')) return left;
    position++;
    const right = primary();
    const numeric = /^-?\d+$/.test(left) && /^-?\d+$/.test(right);
    const equal = numeric ? Number(left) === Number(right) : left === right;
    return (op.text === '=') === equal ? '1' : '0';
  };
  const and = (): string => {
    let left = comparison();
    while (peek()?.text === '&') {
      position++;
      const right = comparison();
      left = isTrue(left) && isTrue(right) ? left : '0';
    }
    return left;
  };
  function or(): string {
    let left = and();
    while (peek()?.text === '|') {
      position++;
      const right = and();
      left = isTrue(left) ? left : right;
    }
    return left;
  }
  const result = or();
  if (position !== tokens.length) throw new Error(`trailing tokens in $[${text}]`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// A channel running the dialplan

/** The call as it reaches the PBX. */
export interface Arrival {
  /** The context its endpoint delivers it to (`context=` in pjsip.conf). */
  context: string;
  /** The Request-URI user part: the number that was dialled. */
  exten: string;
  /** CALLERID(num) */
  callerNumber: string;
  /** ${UNIQUEID} */
  uniqueId: string;
  /**
   * ${EPOCH} when the call arrives. The model's clock moves only while Dial() waits or bridges
   * (everything else takes no time), and ${EPOCH}, CDR(duration) and CDR(billsec) follow it.
   */
  epoch: string;
  /** The codec the trunk negotiated: the first format of the caller's capabilities. Default alaw. */
  codec?: string;
}

/** What the channel meets outside the PBX. */
export interface Surroundings {
  /**
   * The HTTP server CURL() reaches: its raw answer body; '' is no answer at all (nothing listening).
   * It may hang the caller up (Channel.callerHangsUp) while the request is in flight.
   */
  curl(request: CurlRequest, channel: Channel): string;
  /** Dial(WebSocket/...): what the bridge, and the caller meanwhile, do with the hand-off. */
  webSocket?(dial: WebSocketDial): WebSocketCourse;
}

/** Asterisk's configuration beside the dialplan. */
export interface AsteriskConfig {
  /** websocket_client.conf: the connections Dial(WebSocket/<id>/...) can name. */
  websocketClient?: ConfigSection[];
}

export interface CurlRequest {
  url: string;
  /** The POST body; undefined for a GET. */
  postdata: string | undefined;
}

/** What happened on the channel, in order. */
export type ChannelEvent =
  | { kind: 'curlopt'; name: string; value: string }
  | ({ kind: 'curl' } & CurlRequest)
  | { kind: 'push-hangup-handler'; target: string }
  | { kind: 'run-hangup-handler'; target: string }
  | { kind: 'answer' }
  | { kind: 'ringing' }
  | { kind: 'dial'; data: string }
  /** The bridge accepted the upgrade and received this MEDIA_START. */
  | { kind: 'media-start'; message: string }
  | { kind: 'dial-end'; dialStatus: DialStatus }
  | { kind: 'hangup'; cause: string }
  /** Verbose() has no level here; Log() its level, upper-cased. */
  | { kind: 'log'; level?: string; text: string };

/** The variables dial_exec_full empties before it dials (app_dial.c:2403-2413). */
const DIAL_VARIABLES = [
  'DIALSTATUS',
  'DIALEDPEERNUMBER',
  'DIALEDPEERNAME',
  'ANSWEREDTIME',
  'ANSWEREDTIME_MS',
  'DIALEDTIME',
  'DIALEDTIME_MS',
  'RINGTIME',
  'RINGTIME_MS',
  'PROGRESSTIME',
  'PROGRESSTIME_MS',
];

/** ast_var_name: a variable is found by its name without one or two leading underscores. */
function variableKey(name: string): string {
  return name.replace(/^__?/, '');
}

interface Frame {
  context: string;
  exten: string;
  dialled: string;
  index: number;
}

class HangupSignal {}
class ReturnSignal {}

/** One call through the dialplan: `new Channel(plan, arrival, surroundings).run()`, then read what happened. */
export class Channel {
  readonly events: ChannelEvent[] = [];
  /** The variables the dialplan read without their being set. */
  readonly unsetReads: string[] = [];
  readonly #plan: Dialplan;
  readonly #arrival: Arrival;
  readonly #surroundings: Surroundings;
  readonly #config: AsteriskConfig;
  /**
   * The channel's variables by ast_var_name, each with its full name. Setting one deletes and adds
   * it again, so this map runs oldest first: the reverse of Asterisk's list, which inserts at the head.
   */
  readonly #vars = new Map<string, { name: string; value: string }>();
  readonly #curlopts = new Map<string, string>();
  readonly #hangupHandlers: string[] = [];
  readonly #stack: Frame[] = [];
  #context = '';
  /** The extension as written in the dialplan (a pattern such as _X.) */
  #exten = '';
  /** ${EXTEN}: the number that matched it */
  #dialled = '';
  #index = 0;
  /** ast_channel_hangupcause: 0 until something sets it, and ${HANGUPCAUSE} at any time. */
  #cause = 0;
  #hungUp = false;
  /** A hangup that arrived while a priority ran; it takes effect once that priority completes. */
  #pendingHangupCause: number | undefined;
  /** Seconds since the call arrived. */
  #now = 0;
  #answeredAt: number | undefined;
  /** When the CDR was finalized: at the end of a bridge, else when the channel hung up. */
  #cdrEnd: number | undefined;
  readonly #webSockets: WebSocketChannel[] = [];

  constructor(plan: Dialplan, arrival: Arrival, surroundings: Surroundings, config: AsteriskConfig = {}) {
    this.#plan = plan;
    this.#arrival = arrival;
    this.#surroundings = surroundings;
    this.#config = config;
  }

  /** The call arrives in its context; the dialplan runs until it hangs up, then the hangup handlers. */
  run(): this {
    const { context: name, exten } = this.#arrival;
    const context = this.#plan.contexts.get(name);
    if (!context) throw new Error(`no [${name}] context`);
    const matches = [...context.keys()].filter((pattern) => patternMatches(pattern, exten));
    if (matches.length !== 1) throw new Error(`${exten} matches ${matches.length} extensions in ${name}`);
    this.#enter(name, matches[0] as string, exten, 0);
    try {
      this.#execute(1_000);
      throw new Error('the dialplan ended without hanging up');
    } catch (signal) {
      if (!(signal instanceof HangupSignal)) throw signal;
    }
    // As ast_pbx_hangup_handler_run: each pushed handler runs like a Gosub, last pushed first.
    while (this.#hangupHandlers.length > 0) {
      const target = this.#hangupHandlers.pop() as string;
      this.events.push({ kind: 'run-hangup-handler', target });
      const [context, exten, priority] = target.split(',');
      this.#stack.length = 0;
      this.#stack.push({ context: '(handler)', exten: '', dialled: '', index: 0 });
      this.#goto(context as string, exten as string, priority as string);
      try {
        this.#execute(1_000);
        throw new Error(`hangup handler ${target} did not Return()`);
      } catch (signal) {
        if (!(signal instanceof ReturnSignal)) throw signal;
      }
    }
    return this;
  }

  /**
   * The caller hangs up (ast_softhangup). As in __ast_pbx_run it takes effect once the running
   * priority completes: a CURL() in flight still returns and its Set() still stores the answer.
   * Then the hangup handlers run. A channel hung up already stays as it is. (A caller who hangs up
   * while Dial() waits or bridges is part of that Dial's course: Surroundings.webSocket.)
   */
  callerHangsUp(cause: string): void {
    if (!this.#hungUp && this.#pendingHangupCause === undefined) this.#pendingHangupCause = Number(cause);
  }

  /** The cause the channel hung up with; undefined while it has not. */
  get hangupCause(): string | undefined {
    return this.#hungUp ? String(this.#cause) : undefined;
  }

  /** The WebSocket channels Dial() created, in order. */
  get webSockets(): readonly WebSocketChannel[] {
    return this.#webSockets;
  }

  get answered(): boolean {
    return this.events.some((event) => event.kind === 'answer');
  }

  /** The CURL() requests to a URL ending with `path`, in order. */
  requests(path: string): CurlRequest[] {
    return this.events.flatMap((event) =>
      event.kind === 'curl' && event.url.endsWith(path) ? [{ url: event.url, postdata: event.postdata }] : [],
    );
  }

  get logs(): string[] {
    return this.events.flatMap((event) => (event.kind === 'log' ? [event.text] : []));
  }

  #steps(context: string, exten: string): Step[] {
    const steps = this.#plan.contexts.get(context)?.get(exten);
    if (!steps) throw new Error(`no extension ${context},${exten}`);
    return steps;
  }

  #enter(context: string, exten: string, dialled: string, index: number) {
    this.#context = context;
    this.#exten = exten;
    this.#dialled = dialled;
    this.#index = index;
  }

  #execute(limit: number) {
    for (let n = 0; n < limit; n++) {
      const steps = this.#steps(this.#context, this.#exten);
      const step = steps[this.#index];
      if (!step) throw new Error(`fell off the end of ${this.#context},${this.#exten}`);
      this.#index++;
      this.#app(step.app, this.substitute(step.data));
      // __ast_pbx_run checks for a hangup between priorities, never during one.
      const cause = this.#pendingHangupCause;
      if (cause !== undefined) {
        this.#pendingHangupCause = undefined;
        this.#hangup(cause);
      }
    }
    throw new Error('the dialplan loops');
  }

  #app(app: string, data: string) {
    switch (app.toLowerCase()) {
      case 'noop':
        this.events.push({ kind: 'log', text: data });
        return;
      case 'verbose': {
        const args = separateArgs(data, ',', true, 2);
        this.events.push({ kind: 'log', text: args.length === 1 ? (args[0] as string) : (args[1] as string) });
        return;
      }
      case 'log': {
        // log_exec (app_verbose.c:117-160): Log(level,message); the message keeps its commas.
        const [level = '', message] = separateArgs(data, ',', true, 2);
        if (message === undefined) throw new Error(`Log(${data}) without a message is not modelled`);
        if (!['ERROR', 'WARNING', 'NOTICE', 'DEBUG', 'VERBOSE', 'DTMF'].includes(level.toUpperCase())) {
          throw new Error(`Log level ${level} is not modelled`);
        }
        this.events.push({ kind: 'log', level: level.toUpperCase(), text: message });
        return;
      }
      case 'set': {
        const equals = data.indexOf('=');
        if (equals < 0) throw new Error(`Set(${data}) has no '='`);
        this.#write(data.slice(0, equals), data.slice(equals + 1));
        return;
      }
      case 'gotoif': {
        // pbx_builtin_gotoif: condition?iftrue:iffalse, an empty branch continues.
        const question = data.indexOf('?');
        const condition = question < 0 ? data : data.slice(0, question);
        const branches = question < 0 ? '' : data.slice(question + 1);
        const colon = branches.indexOf(':');
        const branch = this.#isTrue(condition)
          ? colon < 0
            ? branches
            : branches.slice(0, colon)
          : colon < 0
            ? ''
            : branches.slice(colon + 1);
        if (branch) this.#parseableGoto(branch);
        return;
      }
      case 'goto':
        this.#parseableGoto(data);
        return;
      case 'gosub': {
        if (data.includes('(')) throw new Error('Gosub arguments are not modelled');
        this.#stack.push({ context: this.#context, exten: this.#exten, dialled: this.#dialled, index: this.#index });
        this.#parseableGoto(data);
        return;
      }
      case 'return': {
        const frame = this.#stack.pop();
        if (!frame) throw new Error('Return() without Gosub');
        if (frame.context === '(handler)') throw new ReturnSignal();
        this.#enter(frame.context, frame.exten, frame.dialled, frame.index);
        return;
      }
      case 'answer':
        if (data !== '') throw new Error('Answer(delay) is not modelled');
        this.#answer();
        return;
      case 'ringing':
        // pbx_builtin_ringing: indicate RINGING (chan_pjsip sends 180 Ringing).
        if (this.answered) throw new Error('Ringing() on an answered channel is not modelled');
        this.events.push({ kind: 'ringing' });
        return;
      case 'dial':
        this.#dial(data);
        return;
      case 'hangup': {
        // pbx_builtin_hangup: a cause number > 0 replaces the channel's; none keeps it, or 16.
        if (data !== '' && !/^\d+$/.test(data)) throw new Error(`Hangup(${data}): cause names are not modelled`);
        const cause = Number(data || 0);
        this.#hangup(cause > 0 ? cause : this.#cause > 0 ? this.#cause : 16);
        return;
      }
      default:
        throw new Error(`application ${app} is not modelled`);
    }
  }

  #answer() {
    if (this.answered) return;
    this.#answeredAt = this.#now;
    this.events.push({ kind: 'answer' });
  }

  #hangup(cause: number = this.#cause): never {
    this.#cause = cause;
    this.#hungUp = true;
    this.#cdrEnd ??= this.#now;
    this.events.push({ kind: 'hangup', cause: String(cause) });
    throw new HangupSignal();
  }

  /** Dial(): app_dial with one WebSocket destination; what happens is decided in asterisk-dial.ts. */
  #dial(data: string) {
    const [peers = '', timeout = '', options = '', url] = separateArgs(data, ',', true, 4);
    if (url !== undefined) throw new Error("Dial()'s URL argument is not modelled");
    for (const name of DIAL_VARIABLES) this.#write(name, '');
    this.events.push({ kind: 'dial', data });
    const start = this.#now;
    const [seconds, sequence] = this.#arrival.uniqueId.split('.');
    const outcome = dialWebSocket({
      peers,
      timeout,
      options,
      callerVariables: [...this.#vars.values()].reverse().map(({ name, value }) => [name, value]),
      callerCause: this.#cause,
      callerCodec: this.#arrival.codec ?? 'alaw',
      uniqueId: `${seconds}.${Number(sequence) + 1 + this.#webSockets.length}`,
      websocketClients: this.#config.websocketClient ?? [],
      course: (dial) => {
        const webSocket = this.#surroundings.webSocket;
        if (!webSocket) throw new Error(`nothing answers the WebSocket at ${dial.uri}`);
        return webSocket(dial);
      },
    });
    if (outcome.webSocket) this.#webSockets.push(outcome.webSocket);
    if (outcome.webSocket?.mediaStart) this.events.push({ kind: 'media-start', message: outcome.webSocket.mediaStart });
    if (outcome.answeredAfter !== undefined) {
      this.#now = start + outcome.answeredAfter;
      this.#answer();
      this.#write('DIALSTATUS', 'ANSWER');
      this.#write('DIALEDPEERNAME', outcome.peer?.name ?? '');
      this.#write('DIALEDPEERNUMBER', outcome.peer?.number ?? '');
    }
    this.#now = start + outcome.elapsed;
    this.#cause = outcome.callerCause;
    if (outcome.answeredAfter !== undefined) {
      // The bridge is over: the CDR is finalized now (cdr.c bridge_state_process_bridge_leave), and
      // end_bridge_callback sets the times in whole seconds and in ms (app_dial.c:2256-2264).
      this.#cdrEnd = this.#now;
      const ms = (from: number) => Math.floor((this.#now - from) * 1000);
      const answeredAt = this.#answeredAt ?? this.#now;
      this.#write('ANSWEREDTIME', String(Math.floor(ms(answeredAt) / 1000)));
      this.#write('ANSWEREDTIME_MS', String(ms(answeredAt)));
      this.#write('DIALEDTIME', String(Math.floor(ms(0) / 1000)));
      this.#write('DIALEDTIME_MS', String(ms(0)));
    }
    this.#write('DIALSTATUS', outcome.dialStatus);
    this.events.push({ kind: 'dial-end', dialStatus: outcome.dialStatus });
    if (outcome.result === -1) this.#hangup();
  }

  /** pbx_checkcondition */
  #isTrue(condition: string): boolean {
    if (condition.trim() === '') return false;
    const number = /^\s*[-+]?\d+/.exec(condition);
    return number ? Number(number[0]) !== 0 : true;
  }

  /** [[context,]exten,]priority-or-label */
  #parseableGoto(target: string) {
    const parts = target.split(',');
    if (parts.length === 3) this.#goto(parts[0] as string, parts[1] as string, parts[2] as string);
    else if (parts.length === 2) this.#goto(this.#context, parts[0] as string, parts[1] as string);
    else this.#goto(this.#context, this.#exten, parts[0] as string);
  }

  #goto(context: string, exten: string, priority: string) {
    const steps = this.#steps(context, exten);
    const index = /^\d+$/.test(priority)
      ? steps.findIndex((step) => step.priority === Number(priority))
      : steps.findIndex((step) => step.label === priority);
    if (index < 0) throw new Error(`no priority or label ${priority} in ${context},${exten}`);
    if (exten.startsWith('_')) throw new Error('jumps to pattern extensions are not modelled');
    this.#enter(context, exten, exten, index);
  }

  /** pbx_substitute_variables: ${...} and $[...], innermost first; values are never scanned again. */
  substitute(text: string): string {
    let out = '';
    let i = 0;
    while (i < text.length) {
      const opener = text.slice(i, i + 2);
      if (opener !== '${' && opener !== '$[') {
        out += text[i];
        i++;
        continue;
      }
      const [open, close] = opener === '${' ? ['{', '}'] : ['[', ']'];
      let depth = 1;
      let j = i + 2;
      while (depth > 0 && j < text.length) {
        if (text[j] === '$' && text[j + 1] === open) {
          depth++;
          j++;
        } else if (text[j] === open) depth++;
        else if (text[j] === close) depth--;
        j++;
      }
      if (depth > 0) throw new Error(`missing '${close}' in ${text}`);
      const inner = this.substitute(text.slice(i + 2, j - 1));
      out += opener === '${' ? this.#read(inner) : evaluateExpression(inner);
      i = j;
    }
    return out;
  }

  #read(expression: string): string {
    const parsed = parseVariableName(expression);
    let value: string | undefined;
    if (parsed.isFunction) {
      const open = parsed.name.indexOf('(');
      const close = parsed.name.lastIndexOf(')');
      const name = parsed.name.slice(0, open);
      const args = close > open ? parsed.name.slice(open + 1, close) : parsed.name.slice(open + 1);
      value = this.#function(name, args);
    } else value = this.#variable(parsed.name);
    return value === undefined ? '' : substring(value, parsed.offset, parsed.length);
  }

  #variable(name: string): string | undefined {
    switch (name) {
      case 'EXTEN':
        return this.#dialled;
      case 'CONTEXT':
        return this.#context;
      case 'UNIQUEID':
        return this.#arrival.uniqueId;
      case 'EPOCH':
        return String(Number(this.#arrival.epoch) + Math.floor(this.#now));
      case 'HANGUPCAUSE':
        return String(this.#cause);
    }
    const value = this.#vars.get(name)?.value ?? this.#plan.globals.get(name);
    if (value === undefined) this.unsetReads.push(name);
    return value;
  }

  /** undefined is a failed read: Asterisk substitutes nothing. */
  #function(name: string, args: string): string | undefined {
    switch (name) {
      case 'URIENCODE':
        return uriEncode(args);
      case 'CALLERID':
        if (args !== 'num') throw new Error(`CALLERID(${args}) is not modelled`);
        return this.#arrival.callerNumber;
      case 'CDR': {
        // cdr.c, with cdr.conf's defaults (endbeforehexten=yes): the CDR read is the last one, already
        // finalized when hangup logic runs. duration counts from the channel's creation, billsec from
        // its answer (0 if it never was), each in whole seconds (cdr_object_get_billsec).
        const end = this.#cdrEnd ?? this.#now;
        if (args === 'duration') return String(Math.floor(end));
        if (args === 'billsec') return String(this.#answeredAt === undefined ? 0 : Math.floor(end - this.#answeredAt));
        throw new Error(`CDR(${args}) is not modelled`);
      }
      case 'FILTER': {
        const [allowed = '', value = ''] = separateArgs(args, ',', true, 2);
        const ranges = [...allowed.matchAll(/(.)-(.)|(.)/gs)].map(
          (m) => (m[3] !== undefined ? [m[3], m[3]] : [m[1], m[2]]) as [string, string],
        );
        return [...value].filter((c) => ranges.some(([low, high]) => c >= low && c <= high)).join('');
      }
      case 'HASH': {
        const [hash, key] = separateArgs(args, ',', true, 2);
        if (key === undefined) throw new Error('HASH() without a key is not modelled');
        return this.#vars.get(`~HASH~${hash}~${key}~`)?.value ?? '';
      }
      case 'CURL':
        return this.#curl(args);
      default:
        throw new Error(`function ${name}() is not modelled`);
    }
  }

  #curl(args: string): string | undefined {
    const [url = '', postdata] = separateArgs(args, ',', true, 2);
    this.events.push({ kind: 'curl', url, postdata });
    const body = this.#surroundings.curl({ url, postdata }, this).trimEnd();
    if (body === '') return undefined;
    const mode = this.#curlopts.get('hashcompat');
    if (mode !== 'yes') return body;
    // func_curl.c, hashcompat: fields go to ~ODBCFIELDS~, the values are returned, commas escaped.
    const escapeCommas = (text: string) => text.replace(/[\\,]/g, '\\$&');
    const fields: string[] = [];
    const values: string[] = [];
    for (const piece of body.split('&')) {
      const equals = piece.indexOf('=');
      fields.push(escapeCommas(uriDecode(equals < 0 ? piece : piece.slice(0, equals))));
      values.push(escapeCommas(equals < 0 ? '' : uriDecode(piece.slice(equals + 1))));
    }
    this.#setVariable('~ODBCFIELDS~', fields.join(','));
    return values.join(',');
  }

  #write(name: string, value: string) {
    const open = name.indexOf('(');
    if (open < 0) {
      this.#setVariable(name, value);
      return;
    }
    const fn = name.slice(0, open);
    const args = name.slice(open + 1, name.lastIndexOf(')'));
    if (fn === 'CURLOPT') {
      this.#curlopts.set(args, value);
      this.events.push({ kind: 'curlopt', name: args, value });
    } else if (fn === 'CHANNEL' && args === 'hangup_handler_push') {
      this.#hangupHandlers.push(value);
      this.events.push({ kind: 'push-hangup-handler', target: value });
    } else if (fn === 'HASH' && !args.includes(',')) {
      // array() in func_strings.c: the keys come from ~ODBCFIELDS~; without them nothing is set.
      const fields = this.#vars.get('~ODBCFIELDS~')?.value;
      if (fields === undefined) return;
      const keys = separateArgs(fields, ',', true, 100);
      const values = separateArgs(value, ',', true, 100);
      keys.forEach((key, i) => {
        this.#setVariable(`~HASH~${args}~${key}~`, values[i] ?? '');
      });
    } else throw new Error(`writing ${name} is not modelled`);
  }

  /** pbx_builtin_setvar_helper: the old variable of that ast_var_name goes, the new one keeps its full name. */
  #setVariable(name: string, value: string) {
    const key = variableKey(name);
    this.#vars.delete(key);
    this.#vars.set(key, { name, value });
  }
}

// ---------------------------------------------------------------------------------------------
// Template analysis: the CURL() calls as written in the file

export interface CurlCall {
  step: Step;
  url: string;
  fields: { name: string; value: string }[];
}

/** The ${...} expressions at the top level of a template, with their positions. */
function topLevelExpressions(text: string): { start: number; end: number; inner: string }[] {
  const found: { start: number; end: number; inner: string }[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '$' || text[i + 1] !== '{') continue;
    let depth = 1;
    let j = i + 2;
    while (depth > 0 && j < text.length) {
      if (text[j] === '{') depth++;
      else if (text[j] === '}') depth--;
      j++;
    }
    found.push({ start: i, end: j, inner: text.slice(i + 2, j - 1) });
    i = j - 1;
  }
  return found;
}

/** Split a template on a character that is outside every ${...}. */
function splitOutside(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '$' && text[i + 1] === '{') {
      depth++;
      current += '${';
      i++;
      continue;
    }
    if (c === '}' && depth > 0) depth--;
    if (c === separator && depth === 0) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

export function findCurlCalls(plan: Dialplan): CurlCall[] {
  const calls: CurlCall[] = [];
  const visit = (step: Step, text: string) => {
    for (const expression of topLevelExpressions(text)) {
      if (expression.inner.startsWith('CURL(')) {
        const args = expression.inner.slice('CURL('.length, expression.inner.lastIndexOf(')'));
        const [url = '', ...rest] = splitOutside(args, ',');
        const postdata = rest.join(',');
        const fields =
          postdata === ''
            ? []
            : splitOutside(postdata, '&').map((pair) => ({
                name: pair.slice(0, pair.indexOf('=')),
                value: pair.slice(pair.indexOf('=') + 1),
              }));
        calls.push({ step, url, fields });
      } else visit(step, expression.inner);
    }
  };
  for (const step of allSteps(plan)) visit(step, step.data);
  return calls;
}

// ---------------------------------------------------------------------------------------------
// pjsip.conf and websocket_client.conf: [sections] of name = value (sorcery's config wizard)

export interface ConfigSection {
  name: string;
  settings: [string, string][];
}

export function parseConfig(text: string): ConfigSection[] {
  const sections: ConfigSection[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const content = stripComment(raw).trim();
    if (!content) continue;
    const header = /^\[([^\]]+)\](?:\(([^)]*)\))?$/.exec(content);
    if (header) {
      sections.push({ name: header[1] as string, settings: [] });
      continue;
    }
    const setting = /^([a-z_0-9]+)\s*=\s*(.*)$/.exec(content);
    const section = sections.at(-1);
    if (!setting || !section) throw new Error(`line ${index + 1}: cannot read ${content}`);
    section.settings.push([setting[1] as string, (setting[2] as string).trim()]);
  }
  return sections;
}
