// vca-bridge: config → spool → forwarder → delivery → HTTP server. Runs on the Asterisk host,
// beside the PBX, as `node vca-bridge.mjs` (bundled) or `node bridge/main.ts` (development).
import { loadBridgeConfig } from './config.ts';
import { Deliverer } from './delivery.ts';
import { Forwarder } from './forwarder.ts';
import { log } from './log.ts';
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
const server = createBridgeServer({ config, spool, forwarder, deliverer });

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

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info('stopping', { signal });
  // Whatever is not delivered by the deadline stays in the spool for the next start.
  const deadline = setTimeout(() => {
    log.warn('shutdown deadline reached; pending events stay spooled');
    process.exit(0);
  }, config.BRIDGE_SHUTDOWN_GRACE_MS);
  server.close();
  server.closeIdleConnections();
  await deliverer.stop();
  await forwarder.close().catch(() => {});
  spool.close();
  clearTimeout(deadline);
  log.info('stopped', { pending: 'kept in spool' });
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
