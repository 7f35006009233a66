// How the bridge treats the Worker's refusals: for good (dead letters) or for now (retries).

import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../tools/free-port.ts';
import { type RunningWorker, startWorker } from '../../tools/miniflare-worker.ts';
import { createAiProfile, createPhoneNumber, createTenant, sql } from '../support/api.ts';
import { workerBindings } from '../support/bindings.ts';
import { type BridgeHealth, bridgeEnv, type RunningBridge, startBridge, waitFor } from '../support/bridge.ts';

describe('events the Worker refuses for good', () => {
  let bridge: RunningBridge | undefined;
  afterAll(() => bridge?.kill());

  it('go to the dead letters with the reason, and the events behind them are still delivered', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const env = bridgeEnv(inject('workerUrl'));
    // A spool written by an older bridge whose event the Worker's contract no longer accepts.
    const first = await startBridge(env);
    await first.kill('SIGTERM');
    const spool = new DatabaseSync(join(env.BRIDGE_SPOOL_DIR as string, 'spool.sqlite'));
    spool
      .prepare('insert into pending (kind, call_id, payload, webhook_id, received_at) values (?, ?, ?, ?, ?)')
      .run(
        'call-ended',
        'legacy.1',
        JSON.stringify({ call_id: 'legacy.1', called_number: number.did_number, ended: 'yesterday' }),
        'msg_legacy_1',
        Date.now(),
      );
    spool.close();

    bridge = await startBridge(env);
    await bridge.routesSynced();
    const callId = `after-legacy.${Date.now()}`;
    const inbound = await bridge.postForm('/inbound', {
      caller_number: '+14155550100',
      called_number: number.did_number,
      call_id: callId,
      timestamp: '1790000000',
    });
    expect(inbound.answer.get('status')).toBe('success');
    await bridge.postForm('/call-ended', {
      call_id: callId,
      called_number: number.did_number,
      billsec: '7',
      hangup_cause: '16',
      timestamp: '1790000100',
    });

    const health = await waitFor('the spool to drain', async () => {
      const h = await bridge?.health();
      return h && h.spool.depth === 0 ? h : undefined;
    });
    expect(health.spool.dead_letters).toBe(1);
    const { rows } = await sql('select status, duration_seconds from calls where external_call_id = $1', [callId]);
    expect(rows).toEqual([{ status: 'ended', duration_seconds: 7 }]);

    const stored = new DatabaseSync(join(env.BRIDGE_SPOOL_DIR as string, 'spool.sqlite'), { readOnly: true });
    const dead = stored.prepare('select call_id, reason from dead_letters').all();
    stored.close();
    expect(dead).toEqual([{ call_id: 'legacy.1', reason: 'the Worker answered 400 validation_failed' }]);
  });
});

describe('a batch the Worker refuses', () => {
  let bridge: RunningBridge | undefined;
  afterAll(() => bridge?.kill());

  it('is delivered one by one: only the event at fault goes to the dead letters', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    await createAiProfile(tenant.id, { is_default: true });
    const env = bridgeEnv(inject('workerUrl'));
    bridge = await startBridge(env);
    await bridge.routesSynced();
    const callIds = [0, 1, 2].map((i) => `batched.${Date.now()}.${i}`);
    for (const callId of callIds) {
      const inbound = await bridge.postForm('/inbound', { called_number: number.did_number, call_id: callId, timestamp: '1790000000' });
      expect(inbound.answer.get('status')).toBe('success');
    }
    await bridge.kill('SIGTERM');

    // Three ends waiting in the spool when the bridge starts: they go as one batch, which the
    // Worker refuses as a whole because of the middle one.
    const spool = new DatabaseSync(join(env.BRIDGE_SPOOL_DIR as string, 'spool.sqlite'));
    const insert = spool.prepare('insert into pending (kind, call_id, payload, webhook_id, received_at) values (?, ?, ?, ?, ?)');
    callIds.forEach((callId, i) => {
      const payload =
        i === 1
          ? { call_id: callId, called_number: number.did_number, ended: 'yesterday' }
          : { call_id: callId, called_number: number.did_number, ended_at: '1790000100', duration_seconds: '5', hangup_cause: '16' };
      insert.run('call-ended', callId, JSON.stringify(payload), `msg_batched_${i}`, Date.now());
    });
    spool.close();
    bridge = await startBridge(env);

    const health = await waitFor('the spool to drain', async () => {
      const h = await bridge?.health();
      return h && h.spool.depth === 0 ? h : undefined;
    });
    expect(health.spool.dead_letters).toBe(1);
    expect(bridge.output()).toContain('batch not taken; delivering its events one by one');
    const { rows } = await sql('select external_call_id, status from calls where tenant_id = $1 order by external_call_id', [tenant.id]);
    expect(rows).toEqual([
      { external_call_id: callIds[0], status: 'ended' },
      { external_call_id: callIds[1], status: 'initiated' },
      { external_call_id: callIds[2], status: 'ended' },
    ]);
  });
});

describe('an event the Worker fails on (500)', () => {
  let bridge: RunningBridge | undefined;
  const poison = `poison.${Date.now()}`;
  afterAll(async () => {
    await bridge?.kill();
    await sql('drop trigger if exists test_poison_call on calls');
    await sql('drop function if exists test_poison()');
  });

  it('is retried alone, set aside after 8 attempts, and the other events are delivered', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    bridge = await startBridge(bridgeEnv(inject('workerUrl'), { BRIDGE_RETRY_BASE_MS: '20', BRIDGE_RETRY_MAX_MS: '50' }));
    await bridge.routesSynced();
    const fine = `fine.${Date.now()}`;
    for (const callId of [poison, fine]) {
      const inbound = await bridge.postForm('/inbound', { called_number: number.did_number, call_id: callId, timestamp: '1790000000' });
      expect(inbound.answer.get('status')).toBe('success');
    }
    // A real database error for this one call only: ending it makes the Worker answer 500.
    await sql(`create or replace function test_poison() returns trigger language plpgsql as $$
      begin raise exception 'poisoned call'; end $$`);
    await sql(`create trigger test_poison_call before update on calls for each row
      when (old.external_call_id = '${poison}') execute function test_poison()`);

    for (const callId of [poison, fine]) {
      const ended = await bridge.postForm('/call-ended', {
        call_id: callId,
        called_number: number.did_number,
        billsec: '3',
        hangup_cause: '16',
        timestamp: '1790000100',
      });
      expect(ended.status).toBe(202);
    }
    const health = await waitFor('the spool to drain', async () => {
      const h = await bridge?.health();
      return h && h.spool.depth === 0 ? h : undefined;
    });
    expect(health.spool.dead_letters).toBe(1);
    const { rows } = await sql('select external_call_id, status from calls where tenant_id = $1 order by external_call_id', [tenant.id]);
    expect(rows).toEqual([
      { external_call_id: fine, status: 'ended' },
      { external_call_id: poison, status: 'initiated' },
    ]);
    const output = bridge.output();
    expect(output).toContain('the Worker failed on this event; retrying it alone');
    expect(output).toContain('the Worker answered 500 internal_error (8 attempts)');
  });
});

describe('refusals that are not the event’s fault', () => {
  let worker: RunningWorker;
  const bridges: RunningBridge[] = [];
  beforeAll(async () => {
    // An ingest budget of 3 requests a minute.
    worker = await startWorker(inject('workerScript'), workerBindings(), undefined, await freePort(), { api: 100_000, ingest: 3 });
  });
  afterAll(async () => {
    for (const bridge of bridges) await bridge.kill();
    await worker?.dispose();
  });

  it('are retried: a 429 from the rate limit leaves the events spooled, not dead', async () => {
    const tenant = await createTenant();
    const number = await createPhoneNumber(tenant.id);
    const bridge = await startBridge(bridgeEnv(worker.url));
    bridges.push(bridge);
    // One event at a time (so each is its own request, not part of a batch), until one is
    // refused: at most twice the budget and more, even if the limiter's window turns over.
    let health: BridgeHealth | undefined;
    for (let i = 0; i < 9 && !health?.last_delivery_error; i++) {
      const ended = await bridge.postForm('/call-ended', {
        call_id: `limited.${Date.now()}.${i}`,
        called_number: number.did_number,
        billsec: '1',
        hangup_cause: '16',
        timestamp: '1790000100',
      });
      expect(ended.status).toBe(202);
      health = await waitFor('the event delivered or refused', async () => {
        const h = await bridge.health();
        return h.spool.depth === 0 || h.last_delivery_error ? h : undefined;
      });
    }
    if (!health) throw new Error('no event was sent');
    expect(health.last_delivery_error).toBe('the Worker answered 429 rate_limited');
    expect(health.spool.dead_letters).toBe(0);
    expect(health.spool.depth).toBe(1);
  });
});
