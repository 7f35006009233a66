// Nothing is lost across a Worker outage and bridge crashes: events accepted while the Worker
// is down survive kill -9, and are delivered soon after the Worker is back (within 10 s: issue 10).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../tools/free-port.ts';
import { type RunningWorker, startWorker } from '../../tools/miniflare-worker.ts';
import { createAiProfile, createPhoneNumber, createTenant, sql } from '../support/api.ts';
import { workerBindings } from '../support/bindings.ts';
import { bridgeEnv, type RunningBridge, startBridge, waitFor } from '../support/bridge.ts';

const CALLS = 500;
/** The longest the spool may take to empty once the Worker answers again. */
const RECOVERY_BOUND_MS = 10_000;

describe('a Worker outage with bridge crashes in the middle', () => {
  let port: number;
  let worker: RunningWorker | undefined;
  const bridges: RunningBridge[] = [];

  let workerLog: string;
  const launchWorker = () => startWorker(inject('workerScript'), workerBindings(), workerLog, port);

  beforeAll(async () => {
    port = await freePort();
    workerLog = join(mkdtempSync(join(tmpdir(), 'vca-outage-')), 'worker.log');
    writeFileSync(workerLog, '');
    worker = await launchWorker();
  });
  afterAll(async () => {
    for (const bridge of bridges) await bridge.kill('SIGKILL');
    await worker?.dispose();
  });

  it('delivers all 500 call-ended events exactly once in effect, within 10 s of the Worker coming back', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    await createAiProfile(tenant.id, { is_default: true });
    // The production backoff (500 ms doubling up to 60 s), not the tests' short one: the recovery
    // bound has to hold with the settings the bridge runs with.
    const env = bridgeEnv(`http://127.0.0.1:${port}`, { BRIDGE_RETRY_BASE_MS: '500', BRIDGE_RETRY_MAX_MS: '60000' });
    let bridge = await startBridge(env);
    bridges.push(bridge);
    await bridge.routesSynced();

    // 500 calls come in while everything is up.
    const callIds = Array.from({ length: CALLS }, (_, i) => `outage.${Date.now()}.${i}`);
    for (let i = 0; i < CALLS; i += 50) {
      const answers = await Promise.all(
        callIds.slice(i, i + 50).map((callId) =>
          bridge.postForm('/inbound', {
            caller_number: '+14155550100',
            called_number: number.did_number,
            call_id: callId,
            timestamp: '1790000000',
          }),
        ),
      );
      expect(answers.every((answer) => answer.answer.get('status') === 'success')).toBe(true);
    }
    // Routed from the bridge's table, the calls are recorded behind their answers: all of them
    // before the outage, so that what crosses it is the 500 ends.
    await waitFor('the calls recorded', async () => (await bridge.health()).spool.depth === 0);

    // The Worker goes away; the calls end; the bridge accepts every end and is killed twice on
    // the way, each time restarted over the same spool.
    await worker?.dispose();
    worker = undefined;
    const end = (i: number) =>
      bridge.postForm('/call-ended', {
        call_id: callIds[i] as string,
        called_number: number.did_number,
        caller_number: '+14155550100',
        duration: String((i % 50) + 5),
        billsec: String((i % 50) + 1),
        hangup_cause: '16',
        timestamp: '1790000600',
      });
    for (const [from, to] of [
      [0, 200],
      [200, 400],
      [400, CALLS],
    ] as const) {
      if (from > 0) {
        await bridge.kill('SIGKILL');
        bridge = await startBridge(env);
        bridges.push(bridge);
        expect((await bridge.health()).spool.depth).toBe(from);
      }
      for (let i = from; i < to; i++) expect((await end(i)).status).toBe(202);
    }
    // Long enough for the last bridge's backoff to reach its ceiling: the slowest case to recover from.
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    const waiting = await bridge.health();
    expect(waiting.spool.depth).toBe(CALLS);
    expect(waiting.spool.oldest_pending_age_seconds).not.toBeNull();

    // The Worker comes back: the spool drains to zero and the routing table syncs again (woken by
    // the deliveries' resumption, not left to its next tick), within the bound.
    worker = await launchWorker();
    const back = Date.now();
    await waitFor(
      'the spool to drain and the bridge to be healthy',
      async () => {
        const health = await bridge.health();
        return health.spool.depth === 0 && health.status === 'ok';
      },
      90_000,
    );
    const recoveryMs = Date.now() - back;
    console.info(
      `outage drill: the spool was empty and the bridge healthy ${recoveryMs} ms after the Worker was back (${CALLS} events, 2 bridge restarts)`,
    );
    expect(recoveryMs).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    const drained = await bridge.health();
    expect(drained).toMatchObject({ status: 'ok', spool: { depth: 0, dead_letters: 0 }, last_delivery_error: null });
    expect(drained.worker_last_ok_at).not.toBeNull();

    // The backlog went in batches: far fewer requests than events.
    const requests = readFileSync(workerLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .filter((line) => line.path?.startsWith('/internal/telephony/call-ended') && line.status === 200);
    const batches = requests.filter((line) => line.path === '/internal/telephony/call-ended/batch');
    expect(batches.reduce((sum, line) => sum + line.events, 0) + requests.length - batches.length).toBe(CALLS);
    expect(requests.length).toBeLessThan(CALLS / 10);

    const { rows } = await sql(
      'select external_call_id, status, duration_seconds, hangup_cause from calls where tenant_id = $1 order by external_call_id',
      [tenant.id],
    );
    expect(rows).toHaveLength(CALLS);
    const byCallId = new Map(rows.map((row) => [row.external_call_id, row]));
    callIds.forEach((callId, i) => {
      expect(byCallId.get(callId)).toEqual({ external_call_id: callId, status: 'ended', duration_seconds: (i % 50) + 1, hangup_cause: 16 });
    });
  }, 180_000);

  it('records a deferred call as failed (cause 41) once the Worker is back, its start delivered before its end', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    await worker?.dispose();
    worker = undefined;
    const bridge = await startBridge(bridgeEnv(`http://127.0.0.1:${port}`, { BRIDGE_INBOUND_DEADLINE_MS: '300' }));
    bridges.push(bridge);
    const callIds = Array.from({ length: 20 }, (_, i) => `deferred.${Date.now()}.${i}`);
    for (const callId of callIds) {
      const answer = await bridge.postForm('/inbound', {
        caller_number: '+14155550100',
        called_number: number.did_number,
        call_id: callId,
        timestamp: '1790000000',
      });
      expect(answer.text).toBe('status=deferred');
    }
    expect((await bridge.health()).spool.depth).toBe(40);

    worker = await launchWorker();
    await waitFor('the spool to drain', async () => (await bridge.health()).spool.depth === 0, 60_000);
    const { rows } = await sql('select external_call_id, status, duration_seconds, hangup_cause from calls where tenant_id = $1', [
      tenant.id,
    ]);
    expect(rows).toHaveLength(20);
    for (const row of rows) expect(row).toMatchObject({ status: 'failed', duration_seconds: 0, hangup_cause: 41 });
  }, 120_000);
});
