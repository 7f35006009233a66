// The dialplan is the other half of the bridge's contract. This suite parses asterisk/extensions.conf
// (sections, `exten =>`/`same =>` lines, priorities, labels) and asterisk/pjsip.conf, checks their
// shape, and runs the dialplan in a small model of Asterisk's PBX against every answer the bridge can
// give. The model follows Asterisk's own code where it matters for safety: ${...} substitution and
// variable-name parsing (pbx_variables.c), argument splitting (__ast_app_separate_args in app.c),
// URIENCODE (ast_uri_encode with ast_uri_http), CURL's hashcompat answer (func_curl.c) and HASH
// (func_strings.c). It throws on any application or function it does not model, so the dialplan
// cannot quietly grow behaviour this suite does not check.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Asterisk dialplan, where ${...} is literal syntax
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CALL_ENDED_FIELDS, INBOUND_FIELDS, parseCallEnded, parseInbound } from '../../bridge/asterisk.ts';

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

// ---------------------------------------------------------------------------------------------
// extensions.conf parser

interface Step {
  context: string;
  exten: string;
  priority: number;
  label: string | undefined;
  app: string;
  data: string;
  line: number;
}

interface Dialplan {
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

function parseDialplan(text: string): Dialplan {
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
function patternMatches(pattern: string, number: string): boolean {
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

function allSteps(plan: Dialplan): Step[] {
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

/** URIENCODE: ast_uri_encode(..., ast_uri_http), byte by byte; keeps alphanumerics and -_.!~*'(). */
function uriEncode(text: string): string {
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

interface Scenario {
  /** The Request-URI user part, as Tata sends it. */
  exten: string;
  callerNumber: string;
  /** The bridge's raw answer body to POST /inbound; '' is no answer at all (bridge down). */
  inboundAnswer: string;
  callEndedAnswer?: string;
  cdr?: { duration: string; billsec: string };
  /** The caller hangs up during Wait() with this cause instead of waiting it out. */
  callerHangsUpWithCause?: string;
  /**
   * The caller hangs up with this cause while the /inbound CURL is in flight. As in Asterisk, the
   * CURL still completes and the Set() stores its answer; the channel is then hung up before the
   * next priority runs, and the hangup handlers run.
   */
  callerHangsUpDuringLookupWithCause?: string;
}

type Event =
  | { kind: 'curlopt'; name: string; value: string }
  | { kind: 'curl'; url: string; postdata: string | undefined }
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

const UNIQUEID = '1706556789.123';
const EPOCH = '1706556789';

class Channel {
  readonly events: Event[] = [];
  readonly unsetReads: string[] = [];
  readonly #plan: Dialplan;
  readonly #scenario: Scenario;
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

  constructor(plan: Dialplan, scenario: Scenario) {
    this.#plan = plan;
    this.#scenario = scenario;
  }

  /** The call arrives in from-tata-trunk; the dialplan runs, then the hangup handlers. */
  run(): this {
    const context = this.#plan.contexts.get('from-tata-trunk');
    if (!context) throw new Error('no [from-tata-trunk] context');
    const matches = [...context.keys()].filter((pattern) => patternMatches(pattern, this.#scenario.exten));
    if (matches.length !== 1) throw new Error(`${this.#scenario.exten} matches ${matches.length} extensions in from-tata-trunk`);
    this.#enter('from-tata-trunk', matches[0] as string, this.#scenario.exten, 0);
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

  get hangupCause(): string | undefined {
    return this.#hangupCause;
  }

  get answered(): boolean {
    return this.events.some((event) => event.kind === 'answer');
  }

  requests(path: string): { url: string; postdata: string | undefined }[] {
    return this.events.filter((event) => event.kind === 'curl' && event.url.endsWith(path)) as {
      url: string;
      postdata: string | undefined;
    }[];
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
        if (this.#scenario.callerHangsUpWithCause !== undefined) this.#hangup(this.#scenario.callerHangsUpWithCause);
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
        return UNIQUEID;
      case 'EPOCH':
        return EPOCH;
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
        return this.#scenario.callerNumber;
      case 'CDR': {
        // A call that was never answered has no talk time: billsec is 0.
        const cdr = this.#scenario.cdr ?? (this.answered ? { duration: '35', billsec: '30' } : { duration: '3', billsec: '0' });
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
    const lookupHangup = this.#scenario.callerHangsUpDuringLookupWithCause;
    if (url.endsWith('/inbound') && lookupHangup !== undefined) this.#pendingHangupCause = lookupHangup;
    const body = (
      url.endsWith('/call-ended') ? (this.#scenario.callEndedAnswer ?? 'status=queued') : this.#scenario.inboundAnswer
    ).trimEnd();
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

interface CurlCall {
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

function findCurlCalls(plan: Dialplan): CurlCall[] {
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

const plan = parseDialplan(extensionsText);
const curlCalls = findCurlCalls(plan);
const inboundCall = curlCalls.find((call) => call.url.endsWith('/inbound'));
const callEndedCall = curlCalls.find((call) => call.url.endsWith('/call-ended'));

const CALL_RECORD_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const TENANT_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const PROFILE_ID = '3b241101-e2bb-4255-8caf-4136c566a962';
const SUCCESS = `status=success&call_record_id=${CALL_RECORD_ID}&tenant_id=${TENANT_ID}&ai_profile_id=${PROFILE_ID}&ai_profile_role=receptionist`;

function call(overrides: Partial<Scenario> = {}, dialplan: Dialplan = plan): Channel {
  return new Channel(dialplan, { exten: '+919876543210', callerNumber: '+919812345678', inboundAnswer: SUCCESS, ...overrides }).run();
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
    const channel = call({ callerHangsUpWithCause: '0', cdr: { duration: '12', billsec: '9' } });
    const fields = Object.fromEntries(new URLSearchParams(channel.requests('/call-ended')[0]?.postdata));
    expect(fields).toMatchObject({ hangup_cause: '0', duration: '12', billsec: '9', timestamp: EPOCH, call_id: UNIQUEID });
    const parsed = parseCallEnded(fields);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toMatchObject({ duration_seconds: 9, hangup_cause: 0, ended_at: Number(EPOCH) });
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
    // The exact body: the parsed template, each ${URIENCODE(X)} replaced by X's value encoded.
    const expected = (inboundCall?.fields ?? [])
      .map(({ name, value }) => `${name}=${uriEncode(channel.substitute(value.slice('${URIENCODE('.length, -')}'.length)))}`)
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

// ---------------------------------------------------------------------------------------------
// pjsip.conf

interface PjsipSection {
  name: string;
  settings: [string, string][];
}

function parsePjsip(text: string): PjsipSection[] {
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

describe('pjsip.conf', () => {
  const sections = parsePjsip(pjsipText);
  const get = (section: PjsipSection | undefined, key: string) => section?.settings.filter(([k]) => k === key).map(([, v]) => v) ?? [];
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
