// A stand-in for the Telnyx API v2 (https://developers.telnyx.com/api/call-control), as much of it
// as VCA drives: Call Control commands on a call (POST /v2/calls/{call_control_id}/actions/{action}),
// and the number API that assigns a number to a Call Control application (GET /v2/phone_numbers
// with filter[phone_number], PATCH /v2/phone_numbers/{id}), behind Bearer auth with one API key.
// Every request is recorded as it arrived. Like Telnyx, a command whose command_id was already
// seen for the call is acknowledged and ignored, a command on a call that has hung up is a 422
// with Telnyx's error 90018, the number filter takes digits only and matches numbers containing
// them, and a number can only be assigned to an application of the account. By default the
// account owns every number it is asked about (the suite's Worker attaches Telnyx numbers
// freely); a test can instead list the numbers it owns, make it refuse, or make it hang.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TELNYX_API_KEY, TELNYX_CONNECTION_ID } from './constants.ts';

export interface RecordedTelnyxRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** The JSON body, or undefined when there was none or it was not JSON. */
  body: Record<string, unknown> | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
}

export interface TelnyxCommand {
  callControlId: string;
  action: string;
  body: Record<string, unknown>;
  /** Acknowledged but ignored: its command_id was already seen for this call. */
  duplicate: boolean;
}

export interface FakeTelnyxNumber {
  id: string;
  record_type: 'phone_number';
  phone_number: string;
  status: 'active';
  connection_id: string | null;
}

export interface TelnyxApi {
  url: string;
  requests: RecordedTelnyxRequest[];
  /** The Call Control commands, in order, with duplicates marked. */
  commands: TelnyxCommand[];
  /** Calls that have ended: commands on them are 422 (90018). A hangup command ends its call. */
  ended: Set<string>;
  /**
   * When set, requests are answered with this error: all of them, or only those with `method`,
   * or only the commands with `action` (answer, reject, …).
   */
  refuse: { status: number; code: string; title: string; method?: 'GET' | 'PATCH' | 'POST'; action?: string } | undefined;
  /** The account's numbers, by E.164. */
  numbers: Map<string, FakeTelnyxNumber>;
  /** True: a number asked about is the account's (created on first sight). False: only `numbers`. */
  ownsEveryNumber: boolean;
  /** The account's Call Control applications: a number can be assigned to these only. */
  connections: Set<string>;
  /** The number as the account holds it (owning it if need be), for setting up its configuration. */
  number(did: string): FakeTelnyxNumber;
  /** True: requests are read and recorded but never answered. */
  hang: boolean;
  /** The commands for one call, duplicates left out. */
  commandsFor(callControlId: string): TelnyxCommand[];
  close(): Promise<void>;
}

export async function startTelnyxApi(apiKey = TELNYX_API_KEY): Promise<TelnyxApi> {
  const hanging = new Set<ServerResponse>();
  const seen = new Map<string, Set<string>>();

  const api: TelnyxApi = {
    url: '',
    requests: [],
    commands: [],
    ended: new Set(),
    refuse: undefined,
    hang: false,
    numbers: new Map(),
    ownsEveryNumber: true,
    connections: new Set([TELNYX_CONNECTION_ID]),
    number(did) {
      let number = api.numbers.get(did);
      if (!number) {
        // Telnyx's ids are 19-digit integers written as strings.
        const id = `1${createHash('sha256').update(did).digest('hex').replace(/\D/g, '').padEnd(18, '0').slice(0, 18)}`;
        number = { id, record_type: 'phone_number', phone_number: did, status: 'active', connection_id: null };
        api.numbers.set(did, number);
      }
      return number;
    },
    commandsFor: (callControlId) => api.commands.filter((command) => command.callControlId === callControlId && !command.duplicate),
    close: async () => {
      for (const response of hanging) response.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', 'http://telnyx.local');
    const body = parseJson(Buffer.concat(chunks).toString());
    api.requests.push({
      method: request.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      body,
      authorization: request.headers.authorization,
      contentType: request.headers['content-type'],
    });
    if (api.hang) {
      hanging.add(response);
      return;
    }
    const answer = (status: number, payload: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(payload));
    };
    // Telnyx's error body: {errors: [{code, title, detail}]}.
    const error = (status: number, code: string, title: string, detail = title) => answer(status, { errors: [{ code, title, detail }] });

    if (request.headers.authorization !== `Bearer ${apiKey}`) return error(401, '10009', 'Authentication failed');
    const command = /^\/v2\/calls\/([^/]+)\/actions\/([a-z_]+)$/.exec(url.pathname);
    const refused =
      api.refuse &&
      (!api.refuse.method || api.refuse.method === request.method) &&
      (!api.refuse.action || api.refuse.action === command?.[2]);
    if (api.refuse && refused) return error(api.refuse.status, api.refuse.code, api.refuse.title);

    if (request.method === 'GET' && url.pathname === '/v2/phone_numbers') {
      // "Requires at least three digits. Non-numerical characters will result in no values being returned."
      const filter = url.searchParams.get('filter[phone_number]') ?? '';
      const digits = /^\d{3,}$/.test(filter) ? filter : undefined;
      if (digits && api.ownsEveryNumber) api.number(`+${digits}`);
      const data = digits ? [...api.numbers.values()].filter((number) => number.phone_number.replace(/\D/g, '').includes(digits)) : [];
      return answer(200, { data, meta: { page_number: 1, page_size: 20, total_pages: 1, total_results: data.length } });
    }
    const numberPath = /^\/v2\/phone_numbers\/(\d+)$/.exec(url.pathname);
    if (request.method === 'PATCH' && numberPath) {
      const number = [...api.numbers.values()].find((candidate) => candidate.id === numberPath[1]);
      if (!number) return error(404, '10005', 'Resource not found');
      if (!body) return error(422, '10015', 'Invalid request body', 'The request body is not a JSON object.');
      if ('connection_id' in body) {
        const connectionId = body.connection_id;
        if (connectionId !== null && (typeof connectionId !== 'string' || !api.connections.has(connectionId))) {
          return error(422, '10015', 'Invalid value', 'connection_id does not name a connection of this account.');
        }
        number.connection_id = connectionId;
      }
      return answer(200, { data: number });
    }

    if (request.method === 'POST' && command) {
      const callControlId = decodeURIComponent(command[1] as string);
      const action = command[2] as string;
      if (!body) return error(422, '10015', 'Invalid request body', 'The request body is not a JSON object.');
      if (api.ended.has(callControlId)) {
        return error(422, '90018', 'Call has already ended', 'This call is no longer active and can not receive commands.');
      }
      const commandId = typeof body.command_id === 'string' ? body.command_id : undefined;
      const ids = seen.get(callControlId) ?? new Set<string>();
      seen.set(callControlId, ids);
      const duplicate = commandId !== undefined && ids.has(commandId);
      if (commandId !== undefined) ids.add(commandId);
      api.commands.push({ callControlId, action, body, duplicate });
      if (!duplicate && (action === 'hangup' || action === 'reject')) api.ended.add(callControlId);
      return answer(200, { data: { result: 'ok' } });
    }
    return error(404, '10005', 'Resource not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
