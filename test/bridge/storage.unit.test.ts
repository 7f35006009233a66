// The bridge's SQLite file on its own: group commit (one fsync for the writes of one moment), and
// files of older bridges (a spool from before routing at the PBX, answers keyed by tenant first)
// opened by this one.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { type AnsweredCall, AnsweredCalls } from '../../bridge/answered-calls.ts';
import { openBridgeDatabase } from '../../bridge/database.ts';
import { GroupCommit } from '../../bridge/group-commit.ts';
import { SpoolQueue } from '../../bridge/spool.ts';

const freshDir = () => mkdtempSync(join(tmpdir(), 'vca-storage-unit-'));

describe('GroupCommit', () => {
  it('commits the writes of one turn of the event loop together, each durable when its promise resolves', async () => {
    const db = openBridgeDatabase(freshDir());
    const spool = new SpoolQueue(db);
    const writes = new GroupCommit(db);
    const first = Array.from({ length: 50 }, (_, i) => writes.add(() => spool.enqueue('call-ended', `call.${i}`, '{}', `msg_${i}`)));
    await Promise.all(first);
    expect(writes.stats()).toEqual({ commits: 1, writes: 50 });
    await writes.add(() => spool.enqueue('call-ended', 'call.last', '{}', 'msg_last'));
    expect(writes.stats()).toEqual({ commits: 2, writes: 51 });
    expect(spool.stats().depth).toBe(51);
    db.close();
  });

  it('rejects every write of a commit that fails, and keeps none of them', async () => {
    const db = openBridgeDatabase(freshDir());
    const spool = new SpoolQueue(db);
    const writes = new GroupCommit(db);
    const good = writes.add(() => spool.enqueue('call-ended', 'call.1', '{}', 'msg_1'));
    const bad = writes.add(() => {
      throw new Error('disk full');
    });
    await expect(good).rejects.toThrow('disk full');
    await expect(bad).rejects.toThrow('disk full');
    expect(spool.stats().depth).toBe(0);
    // The next moment commits again.
    await writes.add(() => spool.enqueue('call-ended', 'call.2', '{}', 'msg_2'));
    expect(spool.stats().depth).toBe(1);
    db.close();
  });
});

describe('a spool from a bridge before routing at the PBX', () => {
  it('takes routed calls after the upgrade, keeping its pending events, dead letters and sequence', () => {
    const dir = freshDir();
    const old = new DatabaseSync(join(dir, 'spool.sqlite'));
    old.exec(`
      pragma journal_mode = wal;
      create table pending (
        seq integer primary key autoincrement,
        kind text not null check (kind in ('inbound', 'call-ended')),
        call_id text not null, payload text not null, webhook_id text not null, received_at integer not null,
        attempts integer not null default 0, next_attempt_at integer not null default 0, last_error text
      );
      create table dead_letters (
        seq integer primary key, kind text not null, call_id text not null, payload text not null, webhook_id text not null,
        received_at integer not null, attempts integer not null, failed_at integer not null, reason text not null
      );
      insert into pending (kind, call_id, payload, webhook_id, received_at) values ('inbound', 'a', '{}', 'msg_a', 1), ('call-ended', 'a', '{}', 'msg_b', 2), ('call-ended', 'b', '{}', 'msg_c', 3);
      insert into dead_letters select seq, kind, call_id, payload, webhook_id, received_at, 1, 4, 'refused' from pending where seq = 3;
      delete from pending where seq = 3;
    `);
    old.close();
    expect(statSync(join(dir, 'spool.sqlite')).mode & 0o777).not.toBe(0o600);

    const db = openBridgeDatabase(dir);
    const spool = new SpoolQueue(db);
    expect(statSync(join(dir, 'spool.sqlite')).mode & 0o777).toBe(0o600);
    expect(spool.stats()).toMatchObject({ depth: 2, dead_letters: 1 });
    expect(spool.oldest(10).map((event) => [event.seq, event.kind])).toEqual([
      [1, 'inbound'],
      [2, 'call-ended'],
    ]);
    // A new event never takes the seq of the dead letter (3), which moving it there would collide with.
    const seq = spool.enqueue('inbound-routed', 'c', '{}', 'msg_d');
    expect(seq).toBe(4);
    spool.deadLetter(seq, 'test');
    expect(spool.stats()).toMatchObject({ depth: 2, dead_letters: 2 });
    db.close();
    // Opening it again changes nothing.
    const again = openBridgeDatabase(dir);
    expect(new SpoolQueue(again).stats()).toMatchObject({ depth: 2, dead_letters: 2 });
    again.close();
  });
});

describe('answers written by a bridge that keyed them by tenant first', () => {
  it('are kept, found by tenant and call and by call and number, and repeats still keep the first answer', () => {
    const dir = freshDir();
    const old = new DatabaseSync(join(dir, 'spool.sqlite'));
    old.exec(`
      pragma journal_mode = wal;
      create table answered_calls (
        tenant_id text not null, call_id text not null, did text not null, call_record_id text not null,
        phone_number_id text not null, ai_profile_id text, ai_profile_role text, answered_at integer not null,
        primary key (tenant_id, call_id)
      );
      create index answered_calls_call_id on answered_calls (call_id);
      create index answered_calls_answered_at on answered_calls (answered_at);
      insert into answered_calls values ('t1', 'c1', '+919812345678', 'r1', 'p1', 'a1', 'receptionist', 1000),
        ('t2', 'c2', '+919812345679', 'r2', 'p2', null, null, 2000);
    `);
    old.close();

    const db = openBridgeDatabase(dir);
    const answered = new AnsweredCalls(db);
    expect(answered.find('t1', 'c1')).toMatchObject({ call_record_id: 'r1', ai_profile_role: 'receptionist', answered_at: 1000 });
    expect(answered.findByCall('c2', '+919812345679')).toMatchObject({ tenant_id: 't2', call_record_id: 'r2', ai_profile_id: null });
    expect(answered.find('t2', 'c1')).toBeUndefined();
    answered.remember({ ...(answered.find('t1', 'c1') as AnsweredCall), call_record_id: 'another' });
    expect(answered.find('t1', 'c1')?.call_record_id).toBe('r1');
    expect(answered.since(1500).map((call) => call.call_id)).toEqual(['c2']);
    db.close();
    // Opening it again changes nothing.
    const again = openBridgeDatabase(dir);
    expect(new AnsweredCalls(again).since(0).map((call) => call.call_record_id)).toEqual(['r1', 'r2']);
    again.close();
  });
});
