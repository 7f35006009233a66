// vca-bridge: config → spool → forwarder → delivery → HTTP server, with the media relay on its
// port. Runs on the Asterisk host, beside the PBX, as `node vca-bridge.mjs` (bundled) or
// `node bridge/main.ts` (development).
import { loadBridgeConfig } from './config.ts';
import { Deliverer } from './delivery.ts';
import { Forwarder } from './forwarder.ts';
import { log } from './log.ts';
import { MediaRelay } from './media.ts';
import { RoutedCalls } from './routed-calls.ts';
import { createBridgeServer } from './server.ts';
import { SpoolQueue } from './spool.ts';

const loaded = loadBridgeConfig(process.env);
if (!loaded.ok) {
  for (const problem of loaded.problems) process.stderr.write(`vca-bridge: ${problem}\n`);
  process.stderr.write('vca-bridge: not started (see the README, "Operations: Asterisk and the bridge")\n');
  process.exit(78); // EX_CONFIG: systemd's RestartPreventExitStatus keeps it from looping
}
const config = loaded.config;

const spool = new SpoolQueue(config.BRIDGE_SPOOL_DIR);
const forwarder = new Forwarder(config.VCA_WORKER_URL, config.VCA_SIGNING_SECRET.trim());
const deliverer = new Deliverer(spool, forwarder, {
  timeoutMs: config.BRIDGE_DELIVERY_TIMEOUT_MS,
  retryBaseMs: config.BRIDGE_RETRY_BASE_MS,
  retryMaxMs: config.BRIDGE_RETRY_MAX_MS,
  concurrency: config.BRIDGE_DELIVERY_CONCURRENCY,
});
const routes = new RoutedCalls();
const media = new MediaRelay({
  workerUrl: config.VCA_WORKER_URL,
  secret: config.VCA_SIGNING_SECRET.trim(),
  startMs: config.BRIDGE_MEDIA_START_MS,
  routes,
});
const server = createBridgeServer({ config, spool, forwarder, deliverer, routes, media });

server.on('error', (error) => {
  log.error('cannot listen', {
    address: `${config.BRIDGE_LISTEN.host}:${config.BRIDGE_LISTEN.port}`,
    error: (error as NodeJS.ErrnoException).code ?? error.message,
  });
  process.exit(1);
});
server.listen(config.BRIDGE_LISTEN.port, config.BRIDGE_LISTEN.host, () => {
  const stats = spool.stats();
  log.info('vca-bridge listening', {
    address: `${config.BRIDGE_LISTEN.host}:${config.BRIDGE_LISTEN.port}`,
    worker: config.VCA_WORKER_URL.origin,
    spool_dir: config.BRIDGE_SPOOL_DIR,
    spool_depth: stats.depth,
  });
  deliverer.start();
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
  await Promise.all([deliverer.stop(), media.drain(config.BRIDGE_SHUTDOWN_GRACE_MS)]);
  await forwarder.close().catch(() => {});
  spool.close();
  clearTimeout(deadline);
  log.info('stopped', { pending: 'kept in spool' });
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
