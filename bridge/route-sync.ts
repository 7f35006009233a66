// Keeps the routing table current: every BRIDGE_ROUTES_SYNC_MS it asks the Worker for the routes
// changed after the table's version (signed GET /internal/telephony/routes), page by page until
// it reaches the Worker's version, and applies them in one commit. A table that was never synced
// gets everything. A Worker whose version is below the table's has gone back in time (its
// database was restored): the table is rebuilt from version 0, and keeps answering meanwhile.
// While syncs fail the table stays as it was and ages; past BRIDGE_ROUTES_MAX_AGE_S the bridge
// stops trusting it (server.ts). Each answered sync also tells the Deliverer the Worker is back.
import type { RemovedRoute, Route, RoutesPage } from '../contract/ingest.ts';
import type { ForwardResult } from './forwarder.ts';
import { log } from './log.ts';
import type { RoutingTable } from './routing-table.ts';

export interface RouteSource {
  fetchRoutes(after: number, timeoutMs: number): Promise<ForwardResult<RoutesPage>>;
}

export interface RouteSyncOptions {
  intervalMs: number;
  timeoutMs: number;
  /** The Worker answered (any page): it is reachable with our signature, and so is its database. */
  onWorkerAnswered?: () => void;
}

export interface RoutesHealth {
  count: number;
  version: number | null;
  synced_at: string | null;
  age_seconds: number | null;
  /** Why the last sync failed; null once one succeeds. */
  last_error: string | null;
}

/** Failures of a sync in a row are logged at most this often. */
const FAILURE_LOG_EVERY_MS = 60_000;
/** A database that goes back during a rebuild: start over, but not forever within one sync. */
const MAX_RESTARTS = 3;

export class RouteSync {
  readonly #table: RoutingTable;
  readonly #source: RouteSource;
  readonly #options: RouteSyncOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #lastError: string | null = null;
  #failingSince: number | undefined;
  #failureLoggedAt = 0;

  constructor(table: RoutingTable, source: RouteSource, options: RouteSyncOptions) {
    this.#table = table;
    this.#source = source;
    this.#options = options;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** The Worker is back (delivery found it so): sync now rather than at the next tick. */
  wake(): void {
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  health(now = Date.now()): RoutesHealth {
    const state = this.#table.state();
    return {
      count: this.#table.count,
      version: state?.version ?? null,
      synced_at: state ? new Date(state.synced_at).toISOString() : null,
      age_seconds: state ? Math.max(0, Math.floor((now - state.synced_at) / 1000)) : null,
      last_error: this.#lastError,
    };
  }

  /** One sync, now: to the Worker's version, or the reason it failed. */
  async sync(): Promise<{ ok: true; changed: number; full: boolean } | { ok: false; reason: string }> {
    const state = this.#table.state();
    let full = state === undefined;
    let after = state?.version ?? 0;
    let changes: (Route | RemovedRoute)[] = [];
    let country = state?.default_country ?? '';
    let restarts = 0;
    for (;;) {
      const result = await this.#source.fetchRoutes(after, this.#options.timeoutMs);
      if (result.outcome !== 'answered') return this.#failed(result.reason);
      this.#options.onWorkerAnswered?.();
      const page = result.body;
      if (page.version < after) {
        if (restarts++ >= MAX_RESTARTS) return this.#failed('the routing version keeps going back');
        log.warn('[ROUTES] the Worker’s routing version is below the table’s (a database restore?); rebuilding the table', {
          table_version: after,
          worker_version: page.version,
        });
        full = true;
        after = 0;
        changes = [];
        continue;
      }
      changes.push(...page.routes);
      country = page.default_country;
      if (page.next_after === null) break;
      after = page.next_after;
    }
    const version = changes.at(-1)?.version ?? after;
    this.#table.apply({ full, changes, state: { version, default_country: country, synced_at: Date.now() } });
    if (this.#failingSince !== undefined) {
      log.info('[ROUTES] sync works again', { failing_ms: Date.now() - this.#failingSince, version });
      this.#failingSince = undefined;
    }
    this.#lastError = null;
    if (full || changes.length > 0) {
      log.info(full ? '[ROUTES] table rebuilt' : '[ROUTES] table updated', {
        changes: changes.length,
        routes: this.#table.count,
        version,
      });
    }
    return { ok: true, changed: changes.length, full };
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        await this.sync();
      } catch (error) {
        // A bug or a disk error must not stop the loop: the table only ages.
        this.#failed(`sync failed: ${error instanceof Error ? error.message : 'unknown error'}`);
      }
      if (this.#running) await this.#sleep(this.#options.intervalMs);
    }
  }

  #failed(reason: string): { ok: false; reason: string } {
    const now = Date.now();
    const first = this.#failingSince === undefined;
    this.#failingSince ??= now;
    if (first || reason !== this.#lastError || now - this.#failureLoggedAt >= FAILURE_LOG_EVERY_MS) {
      this.#failureLoggedAt = now;
      const age = this.health(now).age_seconds;
      log.warn('[ROUTES] sync failed; answering from the table as it is', {
        reason,
        failing_ms: now - this.#failingSince,
        table_age_seconds: age,
      });
    }
    this.#lastError = reason;
    return { ok: false, reason };
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
