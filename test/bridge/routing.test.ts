// Routing at the PBX: the bridge answers /inbound from its own copy of the routes. Its answer must
// be the Worker's answer for the same DID in every state; a change made through the API must reach
// it within seconds; and it must keep routing while the Worker is away, across a kill -9, with
// every call recorded exactly once under the id Asterisk was given once the Worker is back.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../tools/free-port.ts';
import { type RunningWorker, startWorker } from '../../tools/miniflare-worker.ts';
import { api, createAiProfile, createPhoneNumber, createTenant, randomDid, sql } from '../support/api.ts';
import { workerBindings } from '../support/bindings.ts';
import { bridgeEnv, type RunningBridge, startBridge, waitFor } from '../support/bridge.ts';
import { signedPost } from '../support/telephony.ts';

const epoch = () => String(Math.floor(Date.now() / 1000));
const callId = () => `${epoch()}.${randomUUID().slice(0, 8)}`;

/** What the dialplan reads of an answer: the same fields, whoever answered. */
interface Routing {
  status: string;
  code?: string;
  tenant_id?: string;
  ai_profile_id?: string;
  ai_profile_role?: string;
}

function fromBridge(answer: URLSearchParams): Routing {
  const status = answer.get('status') ?? '';
  if (status !== 'success') return { status, code: answer.get('code') ?? undefined };
  expect(answer.get('call_record_id')).toMatch(/^[0-9a-f-]{36}$/);
  return {
    status,
    tenant_id: answer.get('tenant_id') ?? '',
    ai_profile_id: answer.get('ai_profile_id') ?? '',
    ai_profile_role: answer.get('ai_profile_role') ?? '',
  };
}

/** The Worker's JSON answer as the bridge's synchronous path hands it to the dialplan. */
function fromWorker(body: {
  status: string;
  code?: string;
  tenant_id?: string;
  ai_profile?: { id: string; role: string } | null;
}): Routing {
  if (body.status !== 'success') return { status: body.status, code: body.code };
  return {
    status: 'success',
    tenant_id: body.tenant_id,
    ai_profile_id: body.ai_profile?.id ?? '',
    ai_profile_role: body.ai_profile?.role ?? '',
  };
}

function inbound(bridge: RunningBridge, calledNumber: string, id = callId()) {
  return bridge.postForm('/inbound', { caller_number: '+14155550100', called_number: calledNumber, call_id: id, timestamp: epoch() });
}

/** The bridge's log lines for one call's /inbound. */
function inboundLines(bridge: RunningBridge, id: string): { msg: string; source?: string; call_record_id?: string }[] {
  return bridge
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((line) => line.call_id === id && String(line.msg).startsWith('[INBOUND CALL]'));
}

/** The forms a DID arrives in: E.164, and the national forms Tata and others send. */
const FORMS: [string, (e164: string) => string][] = [
  ['E.164', (did) => did],
  ['national with 0', (did) => `0${did.slice(3)}`],
  ['ten digits', (did) => did.slice(3)],
  ['country code without +', (did) => did.slice(1)],
  ['international prefix 00', (did) => `00${did.slice(1)}`],
  ['spaced and dashed', (did) => `+91 ${did.slice(3, 8)}-${did.slice(8)}`],
];

describe('the bridge’s answers from its routing table', () => {
  let bridge: RunningBridge;
  beforeAll(async () => {
    bridge = await startBridge(bridgeEnv(inject('workerUrl')));
  });
  afterAll(() => bridge?.kill());

  it('equal the Worker’s for the same DID in every state, in every form', async () => {
    // Every combination of number state × tenant state × default profile, each on its own number.
    const states: { name: string; did: string }[] = [];
    for (const numberActive of [true, false]) {
      for (const tenantStatus of ['active', 'suspended', 'deleted'] as const) {
        for (const profile of ['present', 'absent', 'switched', 'renamed'] as const) {
          if (profile !== 'present' && profile !== 'absent' && (!numberActive || tenantStatus !== 'active')) continue;
          const tenant = await createTenant();
          const number = await createPhoneNumber(tenant.id, { is_active: numberActive });
          if (profile !== 'absent') {
            const first = await createAiProfile(tenant.id, { name: 'First', role: 'sales', is_default: true });
            if (profile === 'switched') await createAiProfile(tenant.id, { name: 'Second', role: 'support', is_default: true });
            if (profile === 'renamed')
              await api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${first.id}`, { body: { name: 'Renamed', role: 'dispatcher' } });
          }
          if (tenantStatus !== 'active') await api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: tenantStatus } });
          states.push({
            name: `number ${numberActive ? 'active' : 'inactive'}, tenant ${tenantStatus}, profile ${profile}`,
            did: number.did_number,
          });
        }
      }
    }
    await bridge.routesSynced();

    const cases: { name: string; calledNumber: string }[] = [
      ...states.flatMap((state) => FORMS.map(([form, write]) => ({ name: `${state.name}, ${form}`, calledNumber: write(state.did) }))),
      ...[randomDid(), `0${randomDid().slice(3)}`, '+9112', '12345', 'abc', 'sip:9876543210', '+1 415 555 0100', ' '].map((text) => ({
        name: `unknown: ${JSON.stringify(text)}`,
        calledNumber: text,
      })),
    ];
    const mismatches: string[] = [];
    for (const { name, calledNumber } of cases) {
      const worker = await signedPost('/internal/telephony/inbound', {
        caller_number: '+14155550100',
        called_number: calledNumber,
        call_id: callId(),
        timestamp: epoch(),
      });
      const id = callId();
      const fromTable = await inbound(bridge, calledNumber, id);
      if (worker.status === 400) {
        // Not a called number at all: both refuse the request itself.
        expect(fromTable.status, name).toBe(400);
        continue;
      }
      expect(fromTable.status, name).toBe(200);
      const expected = fromWorker(worker.body);
      const got = fromBridge(fromTable.answer);
      if (JSON.stringify(got) !== JSON.stringify(expected))
        mismatches.push(`${name}: bridge ${JSON.stringify(got)}, Worker ${JSON.stringify(expected)}`);
      // From the table, not by asking the Worker.
      expect(
        inboundLines(bridge, id).map((line) => line.source),
        name,
      ).toEqual(['table']);
    }
    expect(mismatches).toEqual([]);
    expect(cases.length).toBeGreaterThan(80);
  }, 120_000);

  it('answer a repeated /inbound for the same call with the same id, as the Worker does, and record it once with that id', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    await createAiProfile(tenant.id, { is_default: true });
    await bridge.routesSynced();
    const id = callId();
    const [first, second] = await Promise.all([
      inbound(bridge, number.did_number, id),
      inbound(bridge, `0${number.did_number.slice(3)}`, id),
    ]);
    const again = await inbound(bridge, number.did_number, id);
    const recordId = first.answer.get('call_record_id');
    expect(recordId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.answer.get('call_record_id')).toBe(recordId);
    expect(again.answer.get('call_record_id')).toBe(recordId);
    // Even once the number is deactivated, as the Worker answers a call it already recorded.
    await api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${number.id}`, { body: { is_active: false } });
    await bridge.routesSynced();
    expect((await inbound(bridge, number.did_number, id)).answer.get('call_record_id')).toBe(recordId);
    expect((await inbound(bridge, number.did_number)).text).toBe('status=error&code=inactive_did');

    const rows = await waitFor('the call recorded', async () => {
      const { rows } = await sql('select id from calls where tenant_id = $1 and external_call_id = $2', [tenant.id, id]);
      return rows.length > 0 ? rows : undefined;
    });
    expect(rows).toEqual([{ id: recordId }]);
  });

  it('reflect a change made through the API within 3 s', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const desk = await createAiProfile(tenant.id, { name: 'Desk', role: 'receptionist', is_default: true });
    const sales = await createAiProfile(tenant.id, { name: 'Sales', role: 'sales' });
    await bridge.routesSynced();
    expect((await inbound(bridge, number.did_number)).answer.get('ai_profile_id')).toBe(desk.id);

    /** From the API's answer to the bridge's answering `expected`, in ms. */
    const reaches = async (
      change: () => Promise<{ status: number }>,
      calledNumber: string,
      expected: (answer: URLSearchParams) => boolean,
    ) => {
      const response = await change();
      expect(response.status).toBeLessThan(300);
      const started = Date.now();
      await waitFor('the bridge to answer with the change', async () => expected((await inbound(bridge, calledNumber)).answer), 10_000);
      return Date.now() - started;
    };
    const took: Record<string, number> = {};
    took['default switched'] = await reaches(
      () => api('PATCH', `/api/tenants/${tenant.id}/ai-profiles/${sales.id}`, { body: { is_default: true } }),
      number.did_number,
      (answer) => answer.get('ai_profile_id') === sales.id && answer.get('ai_profile_role') === 'sales',
    );
    took['number deactivated'] = await reaches(
      () => api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${number.id}`, { body: { is_active: false } }),
      number.did_number,
      (answer) => answer.get('code') === 'inactive_did',
    );
    await api('PATCH', `/api/tenants/${tenant.id}/phone-numbers/${number.id}`, { body: { is_active: true } });
    took['tenant suspended'] = await reaches(
      () => api('PATCH', `/api/tenants/${tenant.id}`, { body: { status: 'suspended' } }),
      number.did_number,
      (answer) => answer.get('code') === 'tenant_inactive',
    );
    const did = randomDid();
    expect((await inbound(bridge, did)).text).toBe('status=error&code=unknown_did');
    const other = await createTenant();
    took['number attached'] = await reaches(
      () => api('POST', `/api/tenants/${other.id}/phone-numbers`, { body: { did_number: did } }),
      did,
      (answer) => answer.get('status') === 'success' && answer.get('tenant_id') === other.id,
    );
    console.info(`routing changes reached the bridge in ${JSON.stringify(took)} ms (sync every 1000 ms)`);
    for (const [change, ms] of Object.entries(took)) expect(ms, change).toBeLessThanOrEqual(3_000);
  }, 60_000);

  it('are shown in /healthz: the table’s size, version and age', async () => {
    const health = await bridge.routesSynced();
    expect(health.status).toBe('ok');
    expect(health.routes).toEqual({
      count: expect.any(Number),
      version: expect.any(Number),
      synced_at: expect.any(String),
      age_seconds: expect.any(Number),
      last_error: null,
    });
    expect(health.routes.count).toBeGreaterThan(0);
    expect(health.routes.age_seconds).toBeLessThanOrEqual(2);
    expect(Date.now() - Date.parse(health.routes.synced_at as string)).toBeLessThan(3_000);
  });

  it('live in a file only the bridge’s user can read', () => {
    const dir = bridge.spoolDir;
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const file of ['spool.sqlite', 'spool.sqlite-wal']) expect(statSync(join(dir, file)).mode & 0o777, file).toBe(0o600);
  });
});

describe('a Worker outage, with the bridge killed in the middle', () => {
  let port: number;
  let worker: RunningWorker | undefined;
  const bridges: RunningBridge[] = [];
  let workerLog: string;
  const launchWorker = () => startWorker(inject('workerScript'), workerBindings(), workerLog, port);

  beforeAll(async () => {
    port = await freePort();
    workerLog = join(mkdtempSync(join(tmpdir(), 'vca-routing-outage-')), 'worker.log');
    writeFileSync(workerLog, '');
    worker = await launchWorker();
  });
  afterAll(async () => {
    for (const bridge of bridges) await bridge.kill('SIGKILL');
    await worker?.dispose();
  });

  it('keeps routing known DIDs from the table, and records every call exactly once with its id when the Worker is back', async () => {
    const tenant = await createTenant();
    const numbers = [await createPhoneNumber(tenant.id), await createPhoneNumber(tenant.id)];
    const profile = await createAiProfile(tenant.id, { is_default: true, role: 'support' });
    const inactive = await createPhoneNumber(tenant.id, { is_active: false });
    const env = bridgeEnv(`http://127.0.0.1:${port}`, { BRIDGE_RETRY_BASE_MS: '500', BRIDGE_RETRY_MAX_MS: '60000' });
    let bridge = await startBridge(env);
    bridges.push(bridge);
    await bridge.routesSynced();

    await worker?.dispose();
    worker = undefined;
    const given = new Map<string, string>();
    const route = async (n: number) => {
      const id = `outage-routing.${Date.now()}.${n}`;
      const answer = await inbound(bridge, (numbers[n % 2] as { did_number: string }).did_number, id);
      expect(answer.answer.get('status'), answer.text).toBe('success');
      expect(answer.answer.get('ai_profile_id')).toBe(profile.id);
      given.set(id, answer.answer.get('call_record_id') as string);
      const ended = await bridge.postForm('/call-ended', {
        call_id: id,
        called_number: (numbers[n % 2] as { did_number: string }).did_number,
        duration: '12',
        billsec: String(10 + (n % 5)),
        hangup_cause: '16',
        timestamp: epoch(),
      });
      expect(ended.status).toBe(202);
    };
    for (let n = 0; n < 20; n++) await route(n);
    expect((await inbound(bridge, inactive.did_number)).text).toBe('status=error&code=inactive_did');
    expect((await inbound(bridge, randomDid())).text).toBe('status=error&code=unknown_did');
    const down = await waitFor('the sync to fail', async () => {
      const health = await bridge.health();
      return health.routes.last_error ? health : undefined;
    });
    expect(down.status).toBe('degraded');
    expect(down.routes.last_error).toMatch(/cannot reach the Worker/);

    // kill -9 in the middle of the outage: the new process routes from the table on disk.
    await bridge.kill('SIGKILL');
    bridge = await startBridge(env);
    bridges.push(bridge);
    expect((await bridge.health()).spool.depth).toBe(40);
    for (let n = 20; n < 40; n++) await route(n);
    expect(inboundLines(bridge, [...given.keys()].at(-1) as string).map((line) => line.source)).toEqual(['table']);
    // A repeat after the restart still gets the id Asterisk was given before it.
    const [firstId, firstRecord] = [...given.entries()][0] as [string, string];
    expect((await inbound(bridge, (numbers[0] as { did_number: string }).did_number, firstId)).answer.get('call_record_id')).toBe(
      firstRecord,
    );

    worker = await launchWorker();
    const back = Date.now();
    await waitFor('the spool to drain', async () => (await bridge.health()).spool.depth === 0, 60_000);
    console.info(`routing outage drill: 40 calls routed during the outage, recorded ${Date.now() - back} ms after the Worker was back`);
    const { rows } = await sql(
      'select id, external_call_id, status, duration_seconds from calls where tenant_id = $1 order by external_call_id',
      [tenant.id],
    );
    expect(rows).toHaveLength(40);
    for (const row of rows) {
      expect(row.id).toBe(given.get(row.external_call_id));
      expect(row.status).toBe('ended');
    }
    const health = await bridge.routesSynced();
    expect(health).toMatchObject({ status: 'ok', spool: { depth: 0, dead_letters: 0 }, routes: { last_error: null } });
  }, 120_000);
});

describe('when the table cannot be trusted', () => {
  it('asks the Worker as before once the table is older than BRIDGE_ROUTES_MAX_AGE_S: deferred while it is away', async () => {
    const port = await freePort();
    let worker: RunningWorker | undefined = await startWorker(inject('workerScript'), workerBindings(), undefined, port);
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const bridge = await startBridge(
      bridgeEnv(`http://127.0.0.1:${port}`, { BRIDGE_ROUTES_MAX_AGE_S: '2', BRIDGE_INBOUND_DEADLINE_MS: '300' }),
    );
    try {
      await bridge.routesSynced();
      await worker.dispose();
      worker = undefined;
      expect((await inbound(bridge, number.did_number)).answer.get('status')).toBe('success');
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const id = callId();
      expect((await inbound(bridge, number.did_number, id)).text).toBe('status=deferred');
      expect(inboundLines(bridge, id).map((line) => line.msg)).toEqual(['[INBOUND CALL] deferred']);
    } finally {
      await bridge.kill();
      await worker?.dispose();
    }
  });

  it('rebuilds the table when the Worker’s routing version is below it (a database restore)', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const env = bridgeEnv(inject('workerUrl'));
    const first = await startBridge(env);
    const synced = await first.routesSynced();
    await first.kill();

    // The table is ahead of the database, and has a route the database never had.
    const ghost = randomDid();
    const db = new DatabaseSync(join(env.BRIDGE_SPOOL_DIR as string, 'spool.sqlite'));
    db.prepare('update routing_state set version = ?').run(1e12);
    db.prepare(`insert into routes (phone_number_id, did, tenant_id, number_active, tenant_active, version) values (?, ?, ?, 1, 1, ?)`).run(
      randomUUID(),
      ghost,
      randomUUID(),
      1e12,
    );
    db.prepare('update routes set number_active = 0 where did = ?').run(number.did_number);
    db.close();

    const bridge = await startBridge(env);
    try {
      const health = await waitFor('the rebuild', async () => {
        const h = await bridge.health();
        return h.routes.version !== null && h.routes.version < 1e12 ? h : undefined;
      });
      expect(health.routes.version).toBeGreaterThanOrEqual(synced.routes.version as number);
      expect(bridge.output()).toContain('[ROUTES] table rebuilt');
      expect(bridge.output()).toContain('below the table');
      expect((await inbound(bridge, ghost)).text).toBe('status=error&code=unknown_did');
      expect((await inbound(bridge, number.did_number)).answer.get('status')).toBe('success');
    } finally {
      await bridge.kill();
    }
  });
});
