// A stand-in for the Telnyx API v2 (https://developers.telnyx.com/api/call-control), as much of it
// as VCA drives: Call Control commands on a call (POST /v2/calls/{call_control_id}/actions/{action}),
// behind Bearer auth with one API key. Every request is recorded as it arrived. Like Telnyx, a
// command whose command_id was already seen for the call is acknowledged and ignored, and a
// command on a call that has hung up is a 422 with Telnyx's error 90018. A test can make it
// refuse or hang. (The number API is added beside the commands by the number-registration work.)
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TELNYX_API_KEY } from './constants.ts';

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

export interface TelnyxApi {
  url: string;
  requests: RecordedTelnyxRequest[];
  /** The Call Control commands, in order, with duplicates marked. */
  commands: TelnyxCommand[];
  /** Calls that have ended: commands on them are 422 (90018). A hangup command ends its call. */
  ended: Set<string>;
  /** When set, commands (and number requests) are answered with this error. */
  refuse: { status: number; code: string; title: string } | undefined;
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
    if (api.refuse) return error(api.refuse.status, api.refuse.code, api.refuse.title);

    const command = /^\/v2\/calls\/([^/]+)\/actions\/([a-z_]+)$/.exec(url.pathname);
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
