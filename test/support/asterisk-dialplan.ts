// A small model of Asterisk's PBX, for checking asterisk/extensions.conf and asterisk/pjsip.conf
// without an Asterisk: it parses both files (sections, `exten =>`/`same =>` lines, priorities,
// labels) and runs the dialplan on a Channel whose surroundings the test supplies (the HTTP server
// CURL() reaches, what the caller does). The model follows Asterisk's own code where it matters for
// safety: ${...} substitution and variable-name parsing (pbx_variables.c), argument splitting
// (__ast_app_separate_args in app.c), URIENCODE (ast_uri_encode with ast_uri_http), CURL's
// hashcompat answer (func_curl.c) and HASH (func_strings.c). It throws on any application or
// function it does not model, so the dialplan cannot quietly grow behaviour the tests do not check.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Asterisk dialplan, where ${...} is literal syntax

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
  /** ${EPOCH}; the clock stands still while the call runs. */
  epoch: string;
  /** CDR(duration) and CDR(billsec). By default 35 and 30 if the call was answered, else 3 and 0. */
  cdr?: { duration: string; billsec: string };
}

/** What the channel meets outside the PBX. Each hook may hang the caller up (Channel.callerHangsUp). */
export interface Surroundings {
  /** The HTTP server CURL() reaches: its raw answer body; '' is no answer at all (nothing listening). */
  curl(request: CurlRequest, channel: Channel): string;
  /** While Wait(seconds) runs. Unless the caller hangs up, the wait runs out and the dialplan goes on. */
  wait?(seconds: string, channel: Channel): void;
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
  | { kind: 'wait'; seconds: string }
  | { kind: 'hangup'; cause: string }
  | { kind: 'log'; text: string };

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
  readonly #vars = new Map<string, string>();
  readonly #curlopts = new Map<string, string>();
  readonly #hangupHandlers: string[] = [];
  readonly #stack: Frame[] = [];
  #context = '';
  /** The extension as written in the dialplan (a pattern such as _X.) */
  #exten = '';
  /** ${EXTEN}: the number that matched it */
  #dialled = '';
  #index = 0;
  #hangupCause: string | undefined;
  /** A hangup that arrived while a priority ran; it takes effect once that priority completes. */
  #pendingHangupCause: string | undefined;

  constructor(plan: Dialplan, arrival: Arrival, surroundings: Surroundings) {
    this.#plan = plan;
    this.#arrival = arrival;
    this.#surroundings = surroundings;
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
   * priority completes: a CURL() in flight still returns and its Set() still stores the answer; a
   * Wait() ends at once. Then the hangup handlers run. A channel hung up already stays as it is.
   */
  callerHangsUp(cause: string): void {
    if (this.#hangupCause === undefined && this.#pendingHangupCause === undefined) this.#pendingHangupCause = cause;
  }

  get hangupCause(): string | undefined {
    return this.#hangupCause;
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
      case 'verbose':
      case 'log': {
        const args = separateArgs(data, ',', true, 2);
        this.events.push({ kind: 'log', text: args.length === 1 ? (args[0] as string) : (args[1] as string) });
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
        this.events.push({ kind: 'answer' });
        return;
      case 'wait':
        this.events.push({ kind: 'wait', seconds: data });
        this.#surroundings.wait?.(data, this);
        return;
      case 'hangup':
        this.#hangup(data);
        return;
      default:
        throw new Error(`application ${app} is not modelled`);
    }
  }

  #hangup(cause: string): never {
    this.#hangupCause = cause;
    this.events.push({ kind: 'hangup', cause });
    throw new HangupSignal();
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
        return this.#arrival.epoch;
      case 'HANGUPCAUSE':
        return this.#hangupCause ?? '';
    }
    const value = this.#vars.get(name) ?? this.#plan.globals.get(name);
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
        // A call that was never answered has no talk time: billsec is 0.
        const cdr = this.#arrival.cdr ?? (this.answered ? { duration: '35', billsec: '30' } : { duration: '3', billsec: '0' });
        if (args !== 'duration' && args !== 'billsec') throw new Error(`CDR(${args}) is not modelled`);
        return cdr[args];
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
        return this.#vars.get(`~HASH~${hash}~${key}~`) ?? '';
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
    this.#vars.set('~ODBCFIELDS~', fields.join(','));
    return values.join(',');
  }

  #write(name: string, value: string) {
    const open = name.indexOf('(');
    if (open < 0) {
      this.#vars.set(name, value);
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
      const fields = this.#vars.get('~ODBCFIELDS~');
      if (fields === undefined) return;
      const keys = separateArgs(fields, ',', true, 100);
      const values = separateArgs(value, ',', true, 100);
      keys.forEach((key, i) => {
        this.#vars.set(`~HASH~${args}~${key}~`, values[i] ?? '');
      });
    } else throw new Error(`writing ${name} is not modelled`);
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
// pjsip.conf

export interface PjsipSection {
  name: string;
  settings: [string, string][];
}

export function parsePjsip(text: string): PjsipSection[] {
  const sections: PjsipSection[] = [];
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
    if (!setting || !section) throw new Error(`pjsip.conf line ${index + 1}: cannot read ${content}`);
    section.settings.push([setting[1] as string, (setting[2] as string).trim()]);
  }
  return sections;
}
