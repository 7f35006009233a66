// The bridge as a real process between Asterisk-shaped requests and the real Worker.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../tools/free-port.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, randomDid, sql } from '../support/api.ts';
import { bridgeEnv, type RunningBridge, runBridgeToExit, startBridge, waitFor } from '../support/bridge.ts';

const epoch = () => String(Math.floor(Date.now() / 1000));
const uniqueId = () => `${epoch()}.${Math.floor(Math.random() * 1e6)}`;

describe('the bridge between Asterisk and the Worker', () => {
  let bridge: RunningBridge;
  let tenant: { id: string };
  let number: { id: string; did_number: string };
  let profile: { id: string };

  beforeAll(async () => {
    bridge = await startBridge(bridgeEnv(inject('workerUrl')));
    tenant = await createTenant();
    number = await createPhoneNumber(tenant.id);
    profile = await createAiProfile(tenant.id, { role: 'support', is_default: true });
    await bridge.routesSynced();
  });
  afterAll(() => bridge?.kill());

  it('routes a call sent as Asterisk sends it, and records its end from the hangup handler', async () => {
    const callId = uniqueId();
    const hostileCaller = '"Eve" <+1&x=2>, ñ=ü';
    const inbound = await bridge.postForm('/inbound', {
      caller_number: hostileCaller,
      called_number: `0${number.did_number.slice(3)}`,
      call_id: callId,
      timestamp: epoch(),
    });
    expect(inbound.status).toBe(200);
    expect(inbound.answer.get('status')).toBe('success');
    expect(inbound.answer.get('tenant_id')).toBe(tenant.id);
    expect(inbound.answer.get('ai_profile_id')).toBe(profile.id);
    expect(inbound.answer.get('ai_profile_role')).toBe('support');
    const callRecordId = inbound.answer.get('call_record_id') as string;

    // Routed from the bridge's table: the call's record follows the answer by moments.
    const call = await waitFor('the call recorded', async () => {
      const listed = await api('GET', `/api/tenants/${tenant.id}/calls`);
      return listed.body.data.find((c: { id: string }) => c.id === callRecordId);
    });
    expect(call).toMatchObject({
      status: 'initiated',
      caller_number: hostileCaller,
      called_number: number.did_number,
      external_call_id: callId,
    });

    const ended = await bridge.postForm('/call-ended', {
      call_id: callId,
      called_number: `0${number.did_number.slice(3)}`,
      caller_number: hostileCaller,
      duration: '47',
      billsec: '40',
      hangup_cause: '16',
      timestamp: epoch(),
    });
    expect(ended.status).toBe(202);
    expect(ended.text).toBe('status=queued');

    const final = await waitFor('the call to end', async () => {
      const response = await api('GET', `/api/tenants/${tenant.id}/calls/${callRecordId}`);
      return response.body.status === 'ended' ? response.body : undefined;
    });
    expect(final).toMatchObject({ duration_seconds: 40, hangup_cause: 16 });
    expect((await bridge.health()).spool.depth).toBe(0);
  });

  it('records a call it routed only after Asterisk gave up waiting as failed (cause 41), never initiated for good', async () => {
    // Asterisk's CURL waits 4 s (CURLOPT httptimeout), then closes the connection, and the
    // dialplan rejects the call with cause 41; its hangup handler, with no answer, posts no end.
    // A bridge stalled past that (a slow disk, a paused process; seen with a real Asterisk and a
    // SIGSTOPped bridge) then reads the request and the close together, and routes the call.
    const callId = uniqueId();
    const body = new URLSearchParams({
      caller_number: '+14155550100',
      called_number: number.did_number,
      call_id: callId,
      timestamp: epoch(),
    });
    const { port } = new URL(bridge.url);
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.end(
        'POST /inbound HTTP/1.1\r\nHost: 127.0.0.1:8788\r\nAccept: */*\r\n' +
          `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.toString().length}\r\n\r\n${body}`,
      );
    });
    socket.on('error', () => {});
    const call = await waitFor(
      'the call recorded as failed',
      async () => {
        const listed = await api('GET', `/api/tenants/${tenant.id}/calls`);
        const found = listed.body.data.find((c: { external_call_id: string }) => c.external_call_id === callId);
        return found?.status === 'failed' ? found : undefined;
      },
      15_000,
    );
    expect(call).toMatchObject({ duration_seconds: 0, hangup_cause: 41, answered_at: null });
    socket.destroy();
  });

  it('uses duration as the talk time when billsec is absent', async () => {
    const callId = uniqueId();
    const inbound = await bridge.postForm('/inbound', {
      caller_number: '',
      called_number: number.did_number,
      call_id: callId,
      timestamp: epoch(),
    });
    const id = inbound.answer.get('call_record_id') as string;
    await bridge.postForm('/call-ended', {
      call_id: callId,
      called_number: number.did_number,
      duration: '9',
      hangup_cause: '16',
      timestamp: epoch(),
    });
    const final = await waitFor('the call to end', async () => {
      const response = await api('GET', `/api/tenants/${tenant.id}/calls/${id}`);
      return response.body.status === 'ended' ? response.body : undefined;
    });
    expect(final.duration_seconds).toBe(9);
    expect(final.caller_number).toBeNull();
  });

  it('routes a call whose caller id is longer than 64 characters, keeping its first 64, and still takes its end', async () => {
    const callId = uniqueId();
    const longCaller = `Anonymous ${'x'.repeat(300)}`;
    const inbound = await bridge.postForm('/inbound', {
      caller_number: longCaller,
      called_number: number.did_number,
      call_id: callId,
      timestamp: epoch(),
    });
    expect(inbound.answer.get('status')).toBe('success');
    const id = inbound.answer.get('call_record_id') as string;
    const ended = await bridge.postForm('/call-ended', {
      call_id: callId,
      called_number: number.did_number,
      caller_number: longCaller,
      duration: '3',
      billsec: '2',
      hangup_cause: '16',
      timestamp: epoch(),
    });
    expect(ended.status).toBe(202);
    const final = await waitFor('the call to end', async () => {
      const response = await api('GET', `/api/tenants/${tenant.id}/calls/${id}`);
      return response.body.status === 'ended' ? response.body : undefined;
    });
    expect(final.caller_number).toBe(longCaller.slice(0, 64));
  });

  it('passes refusals on in hashcompat form', async () => {
    const unknown = await bridge.postForm('/inbound', {
      caller_number: '+14155550100',
      called_number: randomDid(),
      call_id: uniqueId(),
      timestamp: epoch(),
    });
    expect(unknown.status).toBe(200);
    expect(unknown.text).toBe('status=error&code=unknown_did');
  });

  it('accepts JSON as well as form fields', async () => {
    const response = await fetch(`${bridge.url}/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        caller_number: '+14155550100',
        called_number: number.did_number,
        call_id: uniqueId(),
        timestamp: Number(epoch()),
      }),
    });
    expect(new URLSearchParams(await response.text()).get('status')).toBe('success');
  });

  describe('bad input is refused with nothing forwarded or spooled', () => {
    const cases: [string, string, Record<string, string> | string, string | undefined, number][] = [
      ['inbound without called_number', '/inbound', { caller_number: '1', call_id: 'x.1', timestamp: '1790000000' }, undefined, 400],
      [
        'inbound with an unknown field',
        '/inbound',
        { called_number: '+919812345678', call_id: 'x.2', timestamp: '1790000000', channel: 'x' },
        undefined,
        400,
      ],
      [
        'inbound with a timestamp that is not epoch',
        '/inbound',
        { called_number: '+919812345678', call_id: 'x.3', timestamp: 'now' },
        undefined,
        400,
      ],
      [
        'call-ended without hangup_cause',
        '/call-ended',
        { call_id: 'x.4', called_number: '+919812345678', billsec: '1', timestamp: '1790000000' },
        undefined,
        400,
      ],
      [
        'call-ended with a text hangup cause',
        '/call-ended',
        { call_id: 'x.5', called_number: '+919812345678', billsec: '1', hangup_cause: 'NORMAL', timestamp: '1790000000' },
        undefined,
        400,
      ],
      ['garbage', '/call-ended', '\u0000\u0001%%%&&==', undefined, 400],
      ['malformed JSON', '/call-ended', '{"call_id":', 'application/json', 400],
      ['a JSON array', '/inbound', '[1,2]', 'application/json', 400],
      ['repeated fields', '/inbound', 'called_number=1&called_number=2&call_id=x.6&timestamp=1', undefined, 400],
      ['another content type', '/call-ended', 'call_id=x.7', 'text/plain', 415],
      ['a body over 16 KiB', '/call-ended', `call_id=x.8&called_number=${'9'.repeat(17 * 1024)}`, undefined, 413],
    ];

    it.each(cases)('%s', async (_name, path, body, contentType, status) => {
      // The calls routed above have their records delivered first.
      const before = await waitFor('an empty spool', async () => {
        const health = await bridge.health();
        return health.spool.depth === 0 ? health : undefined;
      });
      const text = typeof body === 'string' ? body : new URLSearchParams(body).toString();
      const response = await fetch(`${bridge.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': contentType ?? 'application/x-www-form-urlencoded' },
        body: text,
      });
      expect(response.status).toBe(status);
      expect(new URLSearchParams(await response.text()).get('status')).toBe('error');
      const after = await bridge.health();
      expect(after.spool.depth).toBe(before.spool.depth);
      const { rowCount } = await sql("select 1 from calls where external_call_id like 'x.%'");
      expect(rowCount).toBe(0);
    });
  });

  it('refuses a body over 16 KiB sent without its length (chunked) with a 413, queueing nothing', async () => {
    const before = (await bridge.health()).spool.depth;
    const body = new TextEncoder().encode(`call_id=x.9&called_number=${'9'.repeat(17 * 1024)}&hangup_cause=16&timestamp=1790000000`);
    const response = await fetch(`${bridge.url}/call-ended`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(body);
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(new URLSearchParams(await response.text()).get('code')).toBe('too_large');
    expect((await bridge.health()).spool.depth).toBe(before);
  });

  it('answers unknown paths with 404', async () => {
    const response = await fetch(`${bridge.url}/nope`);
    expect(response.status).toBe(404);
  });
});

describe('when the Worker cannot answer in time', () => {
  let bridge: RunningBridge;
  beforeAll(async () => {
    // Nothing listens there: every attempt fails at once.
    bridge = await startBridge(bridgeEnv(`http://127.0.0.1:${await freePort()}`, { BRIDGE_INBOUND_DEADLINE_MS: '500' }));
  });
  afterAll(() => bridge?.kill());

  it('answers deferred, and spools the call and its failed end for later', async () => {
    const started = Date.now();
    const inbound = await bridge.postForm('/inbound', {
      caller_number: '+14155550100',
      called_number: '+919812345678',
      call_id: uniqueId(),
      timestamp: epoch(),
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(inbound.status).toBe(200);
    expect(inbound.text).toBe('status=deferred');
    const health = await waitFor('a delivery error', async () => {
      const h = await bridge.health();
      return h.last_delivery_error ? h : undefined;
    });
    expect(health.status).toBe('degraded');
    expect(health.spool.depth).toBe(2);
    expect(health.last_delivery_error).toMatch(/cannot reach the Worker/);
    expect(health.worker_last_ok_at).toBeNull();
  });
});

describe('when something answers 200 that is not the routing contract', () => {
  let bridge: RunningBridge;
  let impostor: Server;
  beforeAll(async () => {
    // What a captive proxy or a wrong VCA_WORKER_URL looks like: 200, but not the Worker's answer.
    impostor = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: 'success', call_record_id: 'not-a-uuid', tenant_id: 42 }));
    });
    const port = await freePort();
    await new Promise<void>((resolve) => impostor.listen(port, '127.0.0.1', resolve));
    bridge = await startBridge(bridgeEnv(`http://127.0.0.1:${port}`, { BRIDGE_INBOUND_DEADLINE_MS: '500' }));
  });
  afterAll(async () => {
    await bridge?.kill();
    await new Promise((resolve) => impostor?.close(resolve));
  });

  it('treats it as no answer: the call is deferred and spooled, never routed on a made-up id', async () => {
    const inbound = await bridge.postForm('/inbound', {
      caller_number: '+14155550100',
      called_number: '+919812345678',
      call_id: uniqueId(),
      timestamp: epoch(),
    });
    expect(inbound.status).toBe(200);
    expect(inbound.text).toBe('status=deferred');
    // Nor are the spooled events taken as delivered on its word.
    const health = await waitFor('a delivery error', async () => {
      const h = await bridge.health();
      return h.last_delivery_error ? h : undefined;
    });
    expect(health.spool.depth).toBe(2);
    expect(health.last_delivery_error).toBe('the Worker answered 200 with a body that is not its answer');
    expect(health.worker_last_ok_at).toBeNull();
  });
});

describe('bridge configuration', () => {
  it.each([
    ['no signing secret', { VCA_SIGNING_SECRET: '' }, /VCA_SIGNING_SECRET is missing/],
    ['a signing secret that is not whsec_', { VCA_SIGNING_SECRET: 'hunter2-very-secret' }, /VCA_SIGNING_SECRET is invalid/],
    ['no Worker URL', { VCA_WORKER_URL: '' }, /VCA_WORKER_URL is missing/],
    ['a Worker URL that is not http(s)', { VCA_WORKER_URL: 'ftp://example.com' }, /VCA_WORKER_URL is invalid/],
    ['a non-loopback listen address', { BRIDGE_LISTEN: '0.0.0.0:8788' }, /BRIDGE_LISTEN is not a loopback address/],
    ['a deadline that is not a number', { BRIDGE_INBOUND_DEADLINE_MS: 'soon' }, /BRIDGE_INBOUND_DEADLINE_MS is invalid/],
    ['a media start deadline of zero', { BRIDGE_MEDIA_START_MS: '0' }, /BRIDGE_MEDIA_START_MS is invalid/],
    ['a routes sync interval below 100 ms', { BRIDGE_ROUTES_SYNC_MS: '10' }, /BRIDGE_ROUTES_SYNC_MS is invalid/],
    ['a negative routes max age', { BRIDGE_ROUTES_MAX_AGE_S: '-1' }, /BRIDGE_ROUTES_MAX_AGE_S is invalid/],
  ])('refuses to start with %s, naming the setting and exiting 78', async (_name, change, message) => {
    const { code, output } = await runBridgeToExit({ ...bridgeEnv('http://127.0.0.1:9'), ...change });
    expect(code).toBe(78);
    expect(output).toMatch(message);
    expect(output).not.toContain('hunter2-very-secret');
  });

  it('listens on a non-loopback address only when BRIDGE_ALLOW_REMOTE=1', async () => {
    const port = await freePort();
    const bridge = await startBridge({ ...bridgeEnv('http://127.0.0.1:9'), BRIDGE_LISTEN: `0.0.0.0:${port}`, BRIDGE_ALLOW_REMOTE: '1' });
    try {
      // Nothing listens at the Worker's address: the bridge says so, and listens all the same.
      expect((await bridge.health()).spool.depth).toBe(0);
    } finally {
      await bridge.kill();
    }
  });

  it('stops cleanly on SIGTERM, keeping pending events in the spool', async () => {
    const env = bridgeEnv(`http://127.0.0.1:${await freePort()}`);
    const bridge = await startBridge(env);
    await bridge.postForm('/call-ended', {
      call_id: `keep.${randomUUID()}`,
      called_number: '+919812345678',
      billsec: '3',
      hangup_cause: '16',
      timestamp: epoch(),
    });
    expect(await bridge.kill('SIGTERM')).toBe(0);
    expect(bridge.output()).toContain('"msg":"stopped"');
    const again = await startBridge(env);
    try {
      expect((await again.health()).spool.depth).toBe(1);
    } finally {
      await again.kill();
    }
  });
});
