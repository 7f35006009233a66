// A stand-in for Twilio's REST API (2010-04-01), as much of it as registering a number touches:
// IncomingPhoneNumbers, found by PhoneNumber and updated by Sid, behind Basic auth for one account.
// Every request is recorded as it arrived. By default the account owns every number it is asked
// about (the suite's Worker attaches Twilio numbers freely); a test can instead list the numbers
// it owns, make it refuse, or make it hang.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN } from './constants.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  form: URLSearchParams;
  authorization: string | undefined;
  contentType: string | undefined;
}

export interface FakeIncomingNumber {
  sid: string;
  phone_number: string;
  voice_url: string;
  voice_method: string;
  voice_application_sid: string;
  status_callback: string;
  status_callback_method: string;
}

export interface TwilioApi {
  url: string;
  requests: RecordedRequest[];
  /** The account's numbers, by E.164. */
  numbers: Map<string, FakeIncomingNumber>;
  /** True: a number asked about is the account's (created on first sight). False: only `numbers`. */
  ownsEveryNumber: boolean;
  /** When set, requests with this method are answered with this Twilio error. */
  refuse: { method: 'GET' | 'POST'; status: number; code: number; message: string } | undefined;
  /** True: requests are read and recorded but never answered. */
  hang: boolean;
  /** The number as the account holds it (owning it if need be), for setting up its configuration. */
  number(did: string): FakeIncomingNumber;
  close(): Promise<void>;
}

const PREFIX = '/2010-04-01/Accounts/';

export async function startTwilioApi(account = { sid: TWILIO_ACCOUNT_SID, token: TWILIO_AUTH_TOKEN }): Promise<TwilioApi> {
  const expectedAuth = `Basic ${Buffer.from(`${account.sid}:${account.token}`).toString('base64')}`;
  const hanging = new Set<ServerResponse>();

  const api: TwilioApi = {
    url: '',
    requests: [],
    numbers: new Map(),
    ownsEveryNumber: true,
    refuse: undefined,
    hang: false,
    number(did) {
      let number = api.numbers.get(did);
      if (!number) {
        number = {
          sid: `PN${createHash('md5').update(did).digest('hex')}`,
          phone_number: did,
          voice_url: '',
          voice_method: 'POST',
          voice_application_sid: '',
          status_callback: '',
          status_callback_method: 'POST',
        };
        api.numbers.set(did, number);
      }
      return number;
    },
    close: async () => {
      for (const response of hanging) response.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', 'http://twilio.local');
    const body = Buffer.concat(chunks).toString();
    api.requests.push({
      method: request.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      form: new URLSearchParams(body),
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
    const error = (status: number, code: number, message: string) =>
      answer(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });

    if (request.headers.authorization !== expectedAuth || !url.pathname.startsWith(`${PREFIX}${account.sid}/`)) {
      return error(401, 20003, 'Authenticate');
    }
    if (api.refuse && api.refuse.method === request.method) return error(api.refuse.status, api.refuse.code, api.refuse.message);
    const rest = url.pathname.slice(`${PREFIX}${account.sid}`.length);
    if (request.method === 'GET' && rest === '/IncomingPhoneNumbers.json') {
      const did = url.searchParams.get('PhoneNumber') ?? '';
      const owned = api.numbers.get(did) ?? (api.ownsEveryNumber && did ? api.number(did) : undefined);
      return answer(200, { incoming_phone_numbers: owned ? [owned] : [], page: 0, page_size: 50 });
    }
    const update = /^\/IncomingPhoneNumbers\/(PN[0-9a-f]{32})\.json$/.exec(rest);
    if (request.method === 'POST' && update) {
      const number = [...api.numbers.values()].find((candidate) => candidate.sid === update[1]);
      if (!number) return error(404, 20404, 'The requested resource was not found');
      const form = new URLSearchParams(body);
      const fields: [string, keyof FakeIncomingNumber][] = [
        ['VoiceUrl', 'voice_url'],
        ['VoiceMethod', 'voice_method'],
        ['VoiceApplicationSid', 'voice_application_sid'],
        ['StatusCallback', 'status_callback'],
        ['StatusCallbackMethod', 'status_callback_method'],
      ];
      for (const [param, field] of fields) {
        const value = form.get(param);
        if (value !== null) number[field] = value;
      }
      return answer(200, number);
    }
    return error(404, 20404, 'The requested resource was not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}
