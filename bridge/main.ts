// vca-bridge: config → database (spool, answers, routing table) → forwarder → delivery and route
// sync → HTTP server, with the media relay on its port. Runs on the Asterisk host, beside the
// PBX, as `node vca-bridge.mjs` (bundled) or `node bridge/main.ts` (development).
import { ANSWERS_KEPT_MS, AnsweredCalls } from './answered-calls.ts';
import { loadBridgeConfig } from './config.ts';
import { openBridgeDatabase } from './database.ts';
import { Deliverer } from './delivery.ts';
import { Forwarder } from './forwarder.ts';
import { GroupCommit } from './group-commit.ts';
import { log } from './log.ts';
import { MediaRelay } from './media.ts';
import { RouteSync } from './route-sync.ts';
import { ROUTED_CALL_TTL_MS, RoutedCalls } from './routed-calls.ts';
import { Router } from './router.ts';
import { RoutingTable } from './routing-table.ts';
import { createBridgeServer } from './server.ts';
import { SpoolQueue } from './spool.ts';

const loaded = loadBridgeConfig(process.env);
if (!loaded.ok) {
  for (const problem of loaded.problems) process.stderr.write(`vca-bridge: ${problem}\n`);
  process.stderr.write('vca-bridge: not started (see the README, "Operations: Asterisk and the bridge")\n');
  process.exit(78); // EX_CONFIG: systemd's RestartPreventExitStatus keeps it from looping
}
const config = loaded.config;

const db = openBridgeDatabase(config.BRIDGE_SPOOL_DIR);
const spool = new SpoolQueue(db);
const answered = new AnsweredCalls(db);
const table = new RoutingTable(db);
const writes = new GroupCommit(db);
const forwarder = new Forwarder(config.VCA_WORKER_URL, config.VCA_SIGNING_SECRET.trim());
const routes = new RoutedCalls();
const deliverer = new Deliverer(spool, forwarder, {
  timeoutMs: config.BRIDGE_DELIVERY_TIMEOUT_MS,
  retryBaseMs: config.BRIDGE_RETRY_BASE_MS,
  retryMaxMs: config.BRIDGE_RETRY_MAX_MS,
  concurrency: config.BRIDGE_DELIVERY_CONCURRENCY,
  // Declared below; only called once deliveries run, after both have started.
  onResumed: () => routeSync.wake(),
});
const routeSync = new RouteSync(table, forwarder, {
  intervalMs: config.BRIDGE_ROUTES_SYNC_MS,
  timeoutMs: Math.min(5_000, config.BRIDGE_DELIVERY_TIMEOUT_MS),
  onWorkerAnswered: () => deliverer.workerAnswered(),
});
const router = new Router({
  writes,
  table,
  answered,
  spool,
  routes,
  maxAgeMs: config.BRIDGE_ROUTES_MAX_AGE_S * 1000,
  onSpooled: () => deliverer.notify('inbound-routed'),
});

// The calls routed before a restart whose audio may still arrive: a hand-off follows its
// /inbound within seconds, but a restart in between no longer forgets the route.
answered.prune();
for (const call of answered.since(Date.now() - Math.min(ROUTED_CALL_TTL_MS, ANSWERS_KEPT_MS))) routes.remember(call, call.answered_at);

// Kept two hours for repeats and restarts; pruned every ten minutes.
setInterval(() => answered.prune(), 10 * 60 * 1000).unref();

const media = new MediaRelay({
  workerUrl: config.VCA_WORKER_URL,
  secret: config.VCA_SIGNING_SECRET.trim(),
  startMs: config.BRIDGE_MEDIA_START_MS,
  routes,
});
const server = createBridgeServer({ config, spool, forwarder, deliverer, routes, media, router, routeSync, writes });

server.on('error', (error) => {
  log.error('cannot listen', {
    address: `${config.BRIDGE_LISTEN.host}:${config.BRIDGE_LISTEN.port}`,
    error: (error as NodeJS.ErrnoException).code ?? error.message,
  });
  process.exit(1);
});
server.listen(config.BRIDGE_LISTEN.port, config.BRIDGE_LISTEN.host, () => {
  const stats = spool.stats();
  const state = table.state();
  log.info('vca-bridge listening', {
    address: `${config.BRIDGE_LISTEN.host}:${config.BRIDGE_LISTEN.port}`,
    worker: config.VCA_WORKER_URL.origin,
    spool_dir: config.BRIDGE_SPOOL_DIR,
    spool_depth: stats.depth,
    routes: table.count,
    routes_version: state?.version ?? null,
    routes_synced_at: state ? new Date(state.synced_at).toISOString() : null,
  });
  deliverer.start();
  routeSync.start();
});

/** After the grace, how long the hung-up calls' closes may take before the process exits anyway. */
const SHUTDOWN_CLOSE_MARGIN_MS = 1_500;
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info('stopping', { signal, media_sessions: media.health().active });
  // Whatever is not delivered by the deadline stays in the spool for the next start. Live calls
  // get the same grace to end by themselves, then are hung up; the margin lets those closes go out.
  const deadline = setTimeout(() => {
    log.warn('shutdown deadline reached; pending events stay spooled');
    process.exit(0);
  }, config.BRIDGE_SHUTDOWN_GRACE_MS + SHUTDOWN_CLOSE_MARGIN_MS);
  server.close();
  server.closeIdleConnections();
  // Upgraded media sockets are not the server's to close: the relay ends its calls itself.
  await Promise.all([deliverer.stop(), routeSync.stop(), media.drain(config.BRIDGE_SHUTDOWN_GRACE_MS)]);
  await forwarder.close().catch(() => {});
  db.close();
  clearTimeout(deadline);
  log.info('stopped', { pending: 'kept in spool' });
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
