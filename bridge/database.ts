// The bridge's one SQLite file (node:sqlite), `spool.sqlite` in BRIDGE_SPOOL_DIR: the spool of
// events for the Worker, the answers given to Asterisk, and the routing table. One file, so an
// answer and the event that records it commit together, and there is one thing to back up.
// WAL with synchronous=FULL: a commit that returned survives kill -9 and power loss. It holds
// routes and callers' numbers, so it is the bridge's user's alone (0600, in a 0700 directory).
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export const DATABASE_FILE = 'spool.sqlite';
const FILE_MODE = 0o600;

export function openBridgeDatabase(dir: string): DatabaseSync {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, DATABASE_FILE);
  // Created with its mode before SQLite opens it: SQLite gives its -wal and -shm files the
  // database file's permissions. A file from an older bridge (created 0644) is tightened.
  closeSync(openSync(path, 'a', FILE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, FILE_MODE);
  const db = new DatabaseSync(path);
  db.exec(`
    pragma auto_vacuum = incremental;
    pragma journal_mode = wal;
    pragma synchronous = full;
    pragma busy_timeout = 5000;
  `);
  return db;
}

const depth = new WeakMap<DatabaseSync, number>();

/** Runs `work` in one transaction (one commit, one fsync); inside another one, as part of it. */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  const level = depth.get(db) ?? 0;
  if (level > 0) return work();
  db.exec('begin immediate');
  depth.set(db, 1);
  try {
    const result = work();
    db.exec('commit');
    return result;
  } catch (error) {
    db.exec('rollback');
    throw error;
  } finally {
    depth.set(db, 0);
  }
}
