// One real stack for the whole suite: PostgreSQL (embedded, or TEST_DATABASE_URL), migrated from
// the committed migrations; the WebSocket proxy the Neon driver uses locally; and the bundled
// Worker in workerd, reachable over HTTP. Test files get the addresses through inject().
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort } from '../tools/free-port.ts';
import { startLocalPostgres } from '../tools/local-postgres.ts';
import { enableLocalAppRole, migrateDatabase } from '../tools/migrate.ts';
import { bundleWorker, startWorker } from '../tools/miniflare-worker.ts';
import { startRealtimeEmulator } from '../tools/realtime-emulator.ts';
import { startWsProxy } from '../tools/ws-proxy.ts';
import { testBindings } from './support/bindings.ts';
import { startTelnyxApi } from './support/telnyx-api.ts';
import { startTwilioApi } from './support/twilio-api.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    workerUrl: string;
    /** The owner (superuser locally): for tests that check rows behind the API's back. */
    databaseUrl: string;
    /** The application role the Worker uses, under row-level security. */
    appDatabaseUrl: string;
    wsProxy: string;
    /** The realtime model emulator's ws:// URL; its /__emulator/sessions is on the same origin. */
    realtimeUrl: string;
    /** The suite Worker's stand-in for Twilio's REST API: it owns every number it is asked about. */
    twilioApiUrl: string;
    /** The suite Worker's stand-in for Telnyx's API: it acknowledges every command. */
    telnyxApiUrl: string;
    workerScript: string;
    workerLog: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'vca-test-'));
  const stops: (() => Promise<unknown>)[] = [];

  let databaseUrl = process.env.TEST_DATABASE_URL;
  if (!databaseUrl) {
    const postgres = await startLocalPostgres({ dataDir: join(dir, 'pg'), port: await freePort(), database: 'vca_test', ephemeral: true });
    stops.push(() => postgres.stop());
    databaseUrl = postgres.url;
  }
  await migrateDatabase(databaseUrl);
  // The Worker logs in as the application role, under row-level security, as in production.
  const appDatabaseUrl = await enableLocalAppRole(databaseUrl);

  const proxy = await startWsProxy();
  stops.push(() => proxy.close());

  // The voice model of the call sessions. Its switches are per session (directives in a profile's
  // prompt), so tests share it; a test that needs it refusing or slow starts one of its own.
  const realtime = await startRealtimeEmulator({ log: () => {} });
  stops.push(() => realtime.close());

  // Attaching a Twilio number registers it with Twilio's API: the suite's Worker gets a stand-in.
  const twilioApi = await startTwilioApi();
  stops.push(() => twilioApi.close());
  // Telnyx calls are answered, rejected and hung up by Call Control commands: a stand-in for those too.
  const telnyxApi = await startTelnyxApi();
  stops.push(() => telnyxApi.close());

  const workerScript = join(dir, 'worker.mjs');
  const workerLog = join(dir, 'worker.log');
  writeFileSync(workerLog, '');
  await bundleWorker(workerScript);
  const worker = await startWorker(
    workerScript,
    testBindings({
      appDatabaseUrl,
      wsProxy: proxy.address,
      realtimeUrl: realtime.url,
      twilioApiUrl: twilioApi.url,
      telnyxApiUrl: telnyxApi.url,
    }),
    workerLog,
  );
  stops.push(() => worker.dispose());

  project.provide('workerUrl', worker.url);
  project.provide('databaseUrl', databaseUrl);
  project.provide('appDatabaseUrl', appDatabaseUrl);
  project.provide('wsProxy', proxy.address);
  project.provide('realtimeUrl', realtime.url);
  project.provide('twilioApiUrl', twilioApi.url);
  project.provide('telnyxApiUrl', telnyxApi.url);
  project.provide('workerScript', workerScript);
  project.provide('workerLog', workerLog);

  return async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
}
