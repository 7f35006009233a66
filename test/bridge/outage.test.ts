// Nothing is lost across a Worker outage and a bridge crash: events accepted while the Worker
// is down survive kill -9, and are delivered once the Worker is back.
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

describe('a Worker outage with a bridge crash in the middle', () => {
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

  it('delivers all 500 call-ended events exactly once in effect', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    await createAiProfile(tenant.id, { is_default: true });
    const env = bridgeEnv(`http://127.0.0.1:${port}`);
    const first = await startBridge(env);
    bridges.push(first);

    // 500 calls come in while everything is up.
    const callIds = Array.from({ length: CALLS }, (_, i) => `outage.${Date.now()}.${i}`);
    for (let i = 0; i < CALLS; i += 50) {
      const answers = await Promise.all(
        callIds.slice(i, i + 50).map((callId) =>
          first.postForm('/inbound', {
            caller_number: '+14155550100',
            called_number: number.did_number,
            call_id: callId,
            timestamp: '1790000000',
          }),
        ),
      );
      expect(answers.every((answer) => answer.answer.get('status') === 'success')).toBe(true);
    }

    // The Worker goes away; the calls end; the bridge accepts every end and is killed half-way.
    await worker?.dispose();
    worker = undefined;
    const end = (bridge: RunningBridge, i: number) =>
      bridge.postForm('/call-ended', {
        call_id: callIds[i] as string,
        called_number: number.did_number,
        caller_number: '+14155550100',
        duration: String((i % 50) + 5),
        billsec: String((i % 50) + 1),
        hangup_cause: '16',
        timestamp: '1790000600',
      });
    for (let i = 0; i < CALLS / 2; i++) expect((await end(first, i)).status).toBe(202);
    await first.kill('SIGKILL');

    const second = await startBridge(env);
    bridges.push(second);
    expect((await second.health()).spool.depth).toBe(CALLS / 2);
    for (let i = CALLS / 2; i < CALLS; i++) expect((await end(second, i)).status).toBe(202);
    const waiting = await second.health();
    expect(waiting.spool.depth).toBe(CALLS);
    expect(waiting.spool.oldest_pending_age_seconds).not.toBeNull();

    // The Worker comes back: the spool drains to zero.
    worker = await launchWorker();
    await waitFor('the spool to drain', async () => (await second.health()).spool.depth === 0, 90_000);
    const drained = await second.health();
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
