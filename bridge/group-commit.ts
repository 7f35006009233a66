// Group commit: the writes of every request that arrives in the same turn of the event loop go
// to disk in one transaction, so concurrent calls share one fsync instead of paying one each.
// `add` resolves once its write is durable (or rejects with the commit's error). The commit runs
// in setImmediate, after the I/O callbacks of the current turn: while one commit blocks the
// loop, new requests queue up in their sockets and go together in the next one, so the busier
// the bridge, the bigger the groups.
import type { DatabaseSync } from 'node:sqlite';
import { transaction } from './database.ts';

type Write = () => void;

export class GroupCommit {
  readonly #db: DatabaseSync;
  #queue: { write: Write; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #scheduled = false;
  #commits = 0;
  #writes = 0;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** `write` runs inside the next commit, with the writes of the same moment (all or none). */
  add(write: Write): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Commits so far, and the writes they carried. */
  stats(): { commits: number; writes: number } {
    return { commits: this.#commits, writes: this.#writes };
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    if (queue.length === 0) return;
    try {
      transaction(this.#db, () => {
        for (const entry of queue) entry.write();
      });
    } catch (error) {
      for (const entry of queue) entry.reject(error);
      return;
    }
    this.#commits++;
    this.#writes += queue.length;
    for (const entry of queue) entry.resolve();
  }
}
