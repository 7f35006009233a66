// `npm run bench`: the call path's headline numbers, measured on this machine. Starts its own stack
// (embedded Postgres with pg_stat_statements, the WebSocket proxy, the Worker in workerd via
// Miniflare, the bridge), seeds 50 tenants × 20 DIDs and 100,000 historical calls, runs the
// scenarios with autocannon, checks every answer, prints one table and writes it as JSON to
// .local/bench/. Scenario 6 carries audio through N concurrent calls (bench-media.ts); scenario 7
// is a sustained rate through the bridge's routing table. Flags: --duration <s> (10),
// --connections <n> (16), --drain <events> (5000), --sessions <n> (20) and --media-seconds <s>
// (30) for scenario 6, --rate <calls/s> (1000) and --rate-duration <s> (30) for scenario 7,
// --only 1,2,… (some scenarios), --pooler (PgBouncer in front of Postgres, see bench-pooler.ts),
// --profile (CPU profiles and event-loop delays of the bridge and the reference, in .local/bench/).
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { normalizeDid } from '../contract/phone.ts';
import { webhookHeaders } from '../contract/signing.ts';
import { uriEncode } from '../test/support/asterisk-dialplan.ts';
import { type CpuPerCall, cpuPerCall, cpuSnapshot } from './bench-cpu.ts';
import { benchMedia, describeMedia, EMULATOR_SILENCE_MS, type MediaResult, startMediaEmulator } from './bench-media.ts';
import { startPooler } from './bench-pooler.ts';
import { describeProfiles } from './bench-profile.ts';
import { freePort } from './free-port.ts';
import { startLocalPostgres } from './local-postgres.ts';
import { enableLocalAppRole, migrateDatabase } from './migrate.ts';
import { bundleWorker, startWorker } from './miniflare-worker.ts';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    drain: { type: 'string', default: '5000' },
    // Scenario 6: concurrent calls, and the caller audio each streams.
    sessions: { type: 'string', default: '20' },
    'media-seconds': { type: 'string', default: '30' },
    rate: { type: 'string', default: '1000' },
    'rate-duration': { type: 'string', default: '30' },
    // For profiling one part: e.g. --only 1,5. The summary's targets need all of them.
    only: { type: 'string', default: '1,2,3,4,5,6,7' },
    // PgBouncer in front of Postgres, as Neon's pooled endpoint in production (needs pgbouncer).
    pooler: { type: 'boolean', default: false },
    // Where the bridge's time goes: it and the reference run under --cpu-prof, with their event
    // loops' delays measured (bench-loop-delay.ts), and stop gracefully so both are written.
    profile: { type: 'boolean', default: false },
  },
});
const ONLY = new Set((flags.only ?? '').split(',').map((part) => part.trim()));
const DURATION = Number(flags.duration);
const CONNECTIONS = Number(flags.connections);
const DRAIN_EVENTS = Number(flags.drain);
const SESSIONS = Number(flags.sessions);
const MEDIA_SECONDS = Number(flags['media-seconds']);
const RATE = Number(flags.rate);
const RATE_DURATION = Number(flags['rate-duration']);
/** The sustained run's promise: every call in Postgres this soon after the load stops. */
const RECORDED_WITHIN_MS = 5_000;
const TENANTS = 50;
const DIDS_PER_TENANT = 20;
const HISTORICAL_CALLS = 100_000;
const OPERATOR_TOKEN = 'bench-operator-token';
const SECRET = 'whsec_IuybHIqPptn9u4FX0796ATJ1I5kJFzYE1qsBSKc3xzA=';

interface Row {
  scenario: string;
  calls_per_s: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  errors: number;
  statements_per_call: number | null;
  /** CPU ms per call by process group (Linux): where the time goes. Scenario 6: per call-second. */
  cpu_ms_per_call?: CpuPerCall;
  note?: string;
  /** Scenario 6's figures; its p50/p95/p99 are the latency the stack adds to an echo. */
  media?: MediaResult;
}

const rows: Row[] = [];
const stops: (() => Promise<unknown>)[] = [];
const dir = mkdtempSync(join(tmpdir(), 'vca-bench-'));
const OUT = fileURLToPath(new URL('../.local/bench/', import.meta.url));
const PROFILE_DIR = flags.profile ? join(OUT, `profile-${new Date().toISOString().replaceAll(':', '-')}`) : undefined;
/** Node's arguments for the bridge and the reference: with --profile, a CPU profile and the loop's delays. */
const PROFILED = PROFILE_DIR
  ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, '--import', fileURLToPath(new URL('./bench-loop-delay.ts', import.meta.url))]
  : [];

/** Stops a process of the stack; one profiled gets to exit by itself, which writes its profile. */
async function stopProcess(child: ReturnType<typeof spawn>) {
  if (!PROFILE_DIR || child.exitCode !== null) return child.kill('SIGKILL');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function summarize(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)) };
}

/** autocannon over prepared requests; every body is checked with `ok`, latencies kept per response. */
async function cannon(
  url: string,
  requests: autocannon.Request[],
  ok: (body: string) => boolean,
  load: { connections: number; duration: number; overallRate?: number } = { connections: CONNECTIONS, duration: DURATION },
) {
  let next = 0;
  let errors = 0;
  const latencies: number[] = [];
  const options: autocannon.Options = {
    url,
    connections: load.connections,
    duration: load.duration,
    ...(load.overallRate ? { overallRate: load.overallRate } : {}),
    requests: [
      {
        setupRequest: (request) => ({ ...request, ...(requests[next++ % requests.length] as autocannon.Request) }),
        onResponse: (status, body) => {
          if (status !== 200 || !ok(body)) errors++;
        },
      },
    ],
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on('response', (_client: unknown, _status: number, _bytes: number, time: number) => latencies.push(time));
  });
  errors += result.errors + result.timeouts + result.non2xx;
  return {
    completed: latencies.length,
    perSecond: latencies.length / load.duration,
    ...summarize(latencies),
    errors,
    wrapped: next > requests.length,
  };
}

async function statementCount(admin: pg.Client): Promise<number> {
  // The bridge's routes sync (one statement a second, whatever the load) is not a call's statement.
  const { rows } = await admin.query(
    `select coalesce(sum(calls), 0)::bigint as n from pg_stat_statements where userid = 'vca_app'::regrole and query not like '%vca_list_routes%'`,
  );
  return Number(rows[0].n);
}

async function main() {
  console.log(
    `bench: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown cpu'}), ${DURATION}s × ${CONNECTIONS} connections per scenario${flags.pooler ? ', through PgBouncer (transaction pooling)' : ''}`,
  );

  // The stack.
  const postgres = await startLocalPostgres({
    dataDir: join(dir, 'pg'),
    port: await freePort(),
    database: 'vca_bench',
    ephemeral: true,
    settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'top' },
  });
  stops.push(() => postgres.stop());
  await migrateDatabase(postgres.url);
  const directUrl = await enableLocalAppRole(postgres.url);
  // The Worker and the floor connect to the same endpoint: Postgres, or PgBouncer in front of it.
  const pooler = flags.pooler ? await startPooler(directUrl, join(dir, 'pgbouncer')) : undefined;
  if (pooler) stops.push(() => pooler.stop());
  const appUrl = pooler?.url ?? directUrl;
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  stops.push(() => admin.end());
  await admin.query('create extension if not exists pg_stat_statements');
  // In a process of its own: in this one it would share an event loop with the load generator.
  const proxyPort = await freePort();
  const proxyProcess = spawn(process.execPath, [fileURLToPath(new URL('./ws-proxy.ts', import.meta.url)), String(proxyPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  stops.push(async () => proxyProcess.kill('SIGKILL'));
  const proxy = {
    address: await new Promise<string>((resolve) => proxyProcess.stdout?.once('data', (chunk) => resolve(String(chunk).trim()))),
  };
  // The voice model of scenario 6's call sessions, in a process of its own (its CPU apart).
  const emulator = ONLY.has('6') ? await startMediaEmulator() : undefined;
  if (emulator) stops.push(() => emulator.stop());
  const script = join(dir, 'worker.mjs');
  await bundleWorker(script);
  const workerPort = await freePort();
  const bindings = {
    DATABASE_URL: appUrl,
    ADMIN_API_TOKENS: OPERATOR_TOKEN,
    TELEPHONY_SIGNING_SECRETS: SECRET,
    APP_ENV: 'development',
    DEFAULT_COUNTRY: 'IN',
    NEON_WS_PROXY: proxy.address,
    ...(emulator && { REALTIME_URL: emulator.url, REALTIME_API_KEY: 'bench-realtime-key', REALTIME_MODEL: 'gpt-realtime' }),
  };
  const limits = { api: 10_000_000, ingest: 10_000_000 };
  let worker = await startWorker(script, bindings, undefined, workerPort, limits);
  let workerUp = true;
  stops.push(async () => workerUp && (await worker.dispose()));
  const stopWorker = async () => {
    workerUp = false;
    await worker.dispose();
  };
  const startAgain = async () => {
    worker = await startWorker(script, bindings, undefined, workerPort, limits);
    workerUp = true;
  };
  const bridgePort = await freePort();
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const bridge = spawn(process.execPath, [...PROFILED, fileURLToPath(new URL('../bridge/main.ts', import.meta.url))], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_OPTIONS: process.env.NODE_OPTIONS ?? '',
      ...(PROFILE_DIR && { BENCH_PROFILE_DIR: PROFILE_DIR }),
      VCA_WORKER_URL: worker.url,
      VCA_SIGNING_SECRET: SECRET,
      BRIDGE_LISTEN: `127.0.0.1:${bridgePort}`,
      BRIDGE_SPOOL_DIR: join(dir, 'spool'),
      BRIDGE_RETRY_BASE_MS: '100',
      BRIDGE_RETRY_MAX_MS: '1000',
    },
    stdio: 'ignore',
  });
  stops.push(() => stopProcess(bridge));
  const pids = { proxy: proxyProcess.pid, bridge: bridge.pid, pooler: pooler?.pid, emulator: emulator?.pid };
  const bridgeUrl = `http://127.0.0.1:${bridgePort}`;
  const bridgeHealth = async () =>
    (await (await fetch(`${bridgeUrl}/healthz`)).json()) as { spool: { depth: number }; routes: { count: number; version: number | null } };
  await waitUntil(
    () =>
      fetch(`${bridgeUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    15_000,
    'the bridge',
  );

  // The data: 50 tenants × 20 DIDs with default profiles, 100,000 historical calls.
  const dids: string[] = [];
  for (let n = 0; dids.length < TENANTS * DIDS_PER_TENANT; n++) {
    const did = `+9198${String(10_000_000 + n * 7919).slice(-8)}`;
    if (normalizeDid(did, 'IN') === did && !dids.includes(did)) dids.push(did);
  }
  await admin.query('begin');
  await admin.query(`insert into tenants (name) select 'Bench tenant ' || i from generate_series(1, ${TENANTS}) i`);
  await admin.query(
    `insert into phone_numbers (tenant_id, did_number)
     select t.id, d.did from (select id, row_number() over (order by name) - 1 as n from tenants) t
     join unnest($1::text[]) with ordinality d(did, i) on (d.i - 1) / ${DIDS_PER_TENANT} = t.n`,
    [dids],
  );
  await admin.query(
    `insert into ai_profiles (tenant_id, name, role, system_prompt, is_default) select id, 'Desk', 'receptionist', 'You answer calls.', true from tenants`,
  );
  await admin.query(
    `insert into calls (tenant_id, phone_number_id, ai_profile_id, status, caller_number, called_number, external_call_id, started_at, created_at, duration_seconds, hangup_cause, ended_at)
     select p.tenant_id, p.id, a.id, 'ended', '+14155550100', p.did_number, 'hist.' || g, now() - (g || ' minutes')::interval, now() - (g || ' minutes')::interval, 60, 16, now() - (g || ' minutes')::interval + interval '1 minute'
     from generate_series(1, ${HISTORICAL_CALLS}) g
     join lateral (select * from phone_numbers order by did_number offset (g % ${TENANTS * DIDS_PER_TENANT}) limit 1) p on true
     join ai_profiles a on a.tenant_id = p.tenant_id`,
  );
  await admin.query('commit');
  await admin.query('analyze');
  console.log(`bench: seeded ${TENANTS} tenants, ${dids.length} DIDs, ${HISTORICAL_CALLS} calls`);
  // The bridge answers from its routing table: it has every seeded route before the load starts.
  await waitUntil(async () => (await bridgeHealth()).routes.count >= dids.length, 30_000, 'the bridge’s routing table');
  // Everything the bridge routed is in Postgres (its records go behind the answers, in batches).
  const spoolDrained = () => waitUntil(async () => (await bridgeHealth()).spool.depth === 0, 120_000, 'the bridge’s spool to drain');
  const randomDid = () => dids[Math.floor(Math.random() * dids.length)] as string;
  const epoch = () => String(Math.floor(Date.now() / 1000));
  // Enough distinct calls that no request is a replay (which the bridge answers without a write).
  const poolSize = DURATION * 3000;
  // The bridge answers from its table faster than that: up to 12,000 calls/s.
  const bridgePoolSize = poolSize * 4;
  const callsCreated = async (prefix: string) =>
    Number((await admin.query(`select count(*)::int as n from calls where external_call_id like $1`, [`${prefix}.%`])).rows[0].n);
  const metrics: Metrics = { drainEvents: DRAIN_EVENTS };
  const directRequests = async (count: number, prefix: string) => {
    const requests: autocannon.Request[] = [];
    for (let i = 0; i < count; i++) {
      const body = JSON.stringify({
        caller_number: '+14155550100',
        called_number: randomDid(),
        call_id: `${prefix}.${randomUUID()}`,
        timestamp: epoch(),
      });
      requests.push({
        method: 'POST',
        path: '/internal/telephony/inbound',
        body,
        headers: { 'content-type': 'application/json', ...(await webhookHeaders(SECRET, body)) },
      });
    }
    return requests;
  };
  const bridgeRequests = (count: number, prefix: string): autocannon.Request[] =>
    Array.from({ length: count }, () => ({
      method: 'POST',
      path: '/inbound',
      body: `caller_number=${uriEncode('+14155550100')}&called_number=${uriEncode(randomDid())}&call_id=${prefix}.${randomUUID()}&timestamp=${epoch()}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }));

  /** Scenarios 1–2: the load, with the statements it ran per call recorded and the CPU it took. */
  const inbound = async (
    url: string,
    requests: autocannon.Request[],
    ok: (body: string) => boolean,
    prefix: string,
    recorded: () => Promise<unknown> = settle,
  ) => {
    const before = await statementCount(admin);
    const cpuBefore = cpuSnapshot(pids);
    const result = await cannon(url, requests, ok);
    // The bridge's records arrive behind its answers: their cost is the run's cost too.
    await recorded();
    const cpu = cpuPerCall(cpuBefore, cpuSnapshot(pids), result.completed, availableParallelism());
    const statementsPerCall = ((await statementCount(admin)) - before) / Math.max(1, await callsCreated(prefix));
    return { ...result, statementsPerCall, cpu };
  };
  const inboundRow = (scenario: string, result: Awaited<ReturnType<typeof inbound>>, note?: string): Row => ({
    scenario,
    calls_per_s: round1(result.perSecond),
    p50_ms: result.p50,
    p95_ms: result.p95,
    p99_ms: result.p99,
    errors: result.errors,
    statements_per_call: round2(result.statementsPerCall),
    cpu_ms_per_call: result.cpu,
    note,
  });

  if (ONLY.has('1')) {
    // 1. Signed inbound straight to the Worker: random DIDs, unique call ids.
    const result = await inbound(
      worker.url,
      await directRequests(poolSize, 'direct'),
      (body) => body.includes('"status":"success"'),
      'direct',
    );
    metrics.direct = result;
    rows.push(inboundRow('1 inbound → Worker (signed)', result));
  }

  if (ONLY.has('2')) {
    // 2. The same calls as Asterisk sends them, form-encoded to the bridge, which answers from its
    // routing table and records them behind the answer (group commit, then /inbound/batch).
    const result = await inbound(
      bridgeUrl,
      bridgeRequests(bridgePoolSize, 'bridge'),
      (body) => body.startsWith('status=success'),
      'bridge',
      spoolDrained,
    );
    metrics.bridge = result;
    const recorded = await callsCreated('bridge');
    rows.push(
      inboundRow(
        '2 inbound → bridge (routing table)',
        result,
        `${recorded} of ${result.completed} recorded in Postgres${metrics.direct ? `; ${round2(metrics.direct.p50 - result.p50)} ms faster than 1 at p50` : ''}`,
      ),
    );
    // Every call answered is in Postgres (requests in flight when the clock stopped are too).
    if (recorded < result.completed) metrics.bridge.errors += result.completed - recorded;
    if (metrics.direct) {
      // The bridge's own latency, without the contention of a saturated machine: one connection.
      const quiet = { connections: 1, duration: Math.min(DURATION, 5) };
      const direct = await cannon(
        worker.url,
        await directRequests(3000, 'quiet-direct'),
        (body) => body.includes('"status":"success"'),
        quiet,
      );
      const viaBridge = await cannon(bridgeUrl, bridgeRequests(3000, 'quiet-bridge'), (body) => body.startsWith('status=success'), quiet);
      const addedQuiet = round2(viaBridge.p50 - direct.p50);
      rows.push({
        scenario: '2u the same, 1 connection: direct / bridge',
        calls_per_s: null,
        p50_ms: null,
        p95_ms: null,
        p99_ms: null,
        errors: direct.errors + viaBridge.errors,
        statements_per_call: null,
        note: `p50 ${direct.p50} / ${viaBridge.p50} ms: bridge adds ${addedQuiet} ms unloaded`,
      });
    }
  }

  if (ONLY.has('2')) {
    // 2r. The reference for 2, in the same run: a plain node:http server answering the same
    // requests from an in-memory map, appending each call to SQLite with the same durability and
    // group commit. What answering from a table costs in Node at all, without the bridge.
    const routes = (
      await admin.query(
        `select p.did_number, p.tenant_id, a.id as ai_profile_id from phone_numbers p join ai_profiles a on a.tenant_id = p.tenant_id and a.is_default`,
      )
    ).rows.map((row) => [row.did_number, { tenant_id: row.tenant_id, ai_profile_id: row.ai_profile_id }]);
    const routesFile = join(dir, 'reference-routes.json');
    writeFileSync(routesFile, JSON.stringify(Object.fromEntries(routes)));
    const referencePort = await freePort();
    const reference = spawn(
      process.execPath,
      [
        ...PROFILED,
        fileURLToPath(new URL('./bench-reference.ts', import.meta.url)),
        String(referencePort),
        routesFile,
        join(dir, 'reference.sqlite'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...(PROFILE_DIR && { BENCH_PROFILE_DIR: PROFILE_DIR }) } },
    );
    stops.push(() => stopProcess(reference));
    await new Promise((resolve) => reference.stdout?.once('data', resolve));
    const cpuBefore = cpuSnapshot({ ...pids, bridge: reference.pid });
    const result = await cannon(`http://127.0.0.1:${referencePort}`, bridgeRequests(bridgePoolSize, 'reference'), (body) =>
      body.startsWith('status=success'),
    );
    const cpu = cpuPerCall(cpuBefore, cpuSnapshot({ ...pids, bridge: reference.pid }), result.completed, availableParallelism());
    metrics.reference = result;
    await stopProcess(reference);
    rows.push({
      scenario: '2r reference: node:http + map + SQLite group commit',
      calls_per_s: round1(result.perSecond),
      p50_ms: result.p50,
      p95_ms: result.p95,
      p99_ms: result.p99,
      errors: result.errors,
      statements_per_call: null,
      cpu_ms_per_call: cpu,
      note: metrics.bridge ? `bridge reaches ${Math.round((100 * metrics.bridge.perSecond) / result.perSecond)} % of it` : undefined,
    });
  }

  if (ONLY.has('2')) {
    // 2o. Scenario 2 while the Worker is away: what the PBX host itself takes. In 2 the records'
    // way on (workerd, the proxy, Postgres) shares these two cores with the bridge; in production
    // it runs elsewhere, and during an outage not at all. The calls are answered from the table
    // and spooled as in 2, and count only once they are in Postgres after the Worker is back.
    await stopWorker();
    const cpuBefore = cpuSnapshot(pids);
    const result = await cannon(bridgeUrl, bridgeRequests(bridgePoolSize, 'away'), (body) => body.startsWith('status=success'));
    const cpu = cpuPerCall(cpuBefore, cpuSnapshot(pids), result.completed, availableParallelism());
    await startAgain();
    await spoolDrained();
    const recorded = await callsCreated('away');
    rows.push({
      scenario: '2o the same, the Worker away: the PBX host alone',
      calls_per_s: round1(result.perSecond),
      p50_ms: result.p50,
      p95_ms: result.p95,
      p99_ms: result.p99,
      errors: result.errors + Math.max(0, result.completed - recorded),
      statements_per_call: null,
      cpu_ms_per_call: cpu,
      note: `${recorded} of ${result.completed} in Postgres once it was back${
        metrics.reference ? `; ${Math.round((100 * result.perSecond) / metrics.reference.perSecond)} % of 2r` : ''
      }`,
    });
  }

  if (ONLY.has('3')) {
    // 3. Call-ended drain: events accepted while the Worker is down, delivered once it is back.
    await admin.query(
      `insert into calls (tenant_id, phone_number_id, ai_profile_id, caller_number, called_number, external_call_id)
       select p.tenant_id, p.id, null, '+14155550100', p.did_number, 'drain.' || g
       from generate_series(1, ${DRAIN_EVENTS}) g
       join lateral (select * from phone_numbers order by did_number offset (g % ${TENANTS * DIDS_PER_TENANT}) limit 1) p on true`,
    );
    const calls = (await admin.query(`select external_call_id, called_number from calls where external_call_id like 'drain.%'`)).rows;
    await stopWorker();
    let refused = 0;
    for (let i = 0; i < calls.length; i += 50) {
      const answers = await Promise.all(
        calls.slice(i, i + 50).map((call) =>
          fetch(`${bridgeUrl}/call-ended`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: `call_id=${call.external_call_id}&called_number=${uriEncode(call.called_number)}&duration=30&billsec=25&hangup_cause=16&timestamp=${epoch()}`,
          }).then((r) => r.status),
        ),
      );
      refused += answers.filter((status) => status !== 202).length;
    }
    await startAgain();
    const started = performance.now();
    await waitUntil(
      async () => ((await (await fetch(`${bridgeUrl}/healthz`)).json()) as { spool: { depth: number } }).spool.depth === 0,
      600_000,
      'the spool to drain',
    );
    const seconds = (performance.now() - started) / 1000;
    const ended = (await admin.query(`select count(*)::int as n from calls where external_call_id like 'drain.%' and status = 'ended'`))
      .rows[0].n as number;
    metrics.drainSeconds = seconds;
    metrics.drainEvents = calls.length;
    rows.push({
      scenario: `3 call-ended drain (${calls.length} events)`,
      calls_per_s: round1(calls.length / seconds),
      p50_ms: null,
      p95_ms: null,
      p99_ms: null,
      errors: refused + (calls.length - ended),
      statements_per_call: null,
      note: `drained in ${round2(seconds)} s after the Worker came back`,
    });
  }

  if (ONLY.has('4')) {
    // 4. The calls list: the first page vs the page after following the cursor 50 times.
    const tenant = (await admin.query(`select tenant_id from calls group by tenant_id order by count(*) desc limit 1`)).rows[0].tenant_id;
    const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    const firstPath = `/api/tenants/${tenant}/calls?limit=20`;
    let deepPath = firstPath;
    for (let i = 0; i < 50; i++) {
      const page = (await (await fetch(`${worker.url}${deepPath}`, { headers: auth })).json()) as { next_cursor: string };
      deepPath = `/api/tenants/${tenant}/calls?limit=20&cursor=${page.next_cursor}`;
    }
    for (const [name, path, key] of [
      ['4a calls list, first page', firstPath, 'firstPage'],
      ['4b calls list, 51st page', deepPath, 'deepPage'],
    ] as const) {
      const result = await cannon(worker.url, [{ method: 'GET', path, headers: auth }], (body) => body.includes('"data":[{'));
      metrics[key] = result;
      rows.push({
        scenario: name,
        calls_per_s: round1(result.perSecond),
        p50_ms: result.p50,
        p95_ms: result.p95,
        p99_ms: result.p99,
        errors: result.errors,
        statements_per_call: null,
      });
    }
  }

  if (ONLY.has('5')) {
    // 5. The reference floor: a plain Node process, a new pg connection per call, the same statement.
    await settle();
    const before = await statementCount(admin);
    const cpuBefore = cpuSnapshot(pids);
    const output = execFileSync(
      process.execPath,
      [fileURLToPath(new URL('./bench-floor.ts', import.meta.url)), appUrl, dids.join(','), String(DURATION), String(CONNECTIONS)],
      {
        maxBuffer: 512 * 1024 * 1024,
      },
    ).toString();
    const floor = JSON.parse(output) as { latencies: number[]; errors: number; elapsed: number };
    const cpu = cpuPerCall(cpuBefore, cpuSnapshot(pids), floor.latencies.length, availableParallelism());
    const stats = summarize(floor.latencies);
    const perCall = ((await statementCount(admin)) - before) / Math.max(1, await callsCreated('floor'));
    metrics.floor = { perSecond: floor.latencies.length / floor.elapsed, ...stats, errors: floor.errors };
    rows.push({
      scenario: '5 floor: new pg connection + statement',
      calls_per_s: round1(metrics.floor.perSecond),
      p50_ms: stats.p50,
      p95_ms: stats.p95,
      p99_ms: stats.p99,
      errors: floor.errors,
      statements_per_call: round2(perCall),
      cpu_ms_per_call: cpu,
    });
  }

  if (ONLY.has('6') && emulator) {
    // 6. Concurrent calls carrying audio: bridge /inbound, the /media hand-off, turns echoed by the emulator.
    const media = await benchMedia({ bridgeUrl, bridgePid: bridge.pid, emulator, admin, pids }, SESSIONS, MEDIA_SECONDS);
    metrics.media = media;
    rows.push({
      scenario: `6 media: ${media.sessions} calls × ${media.media_seconds} s`,
      calls_per_s: null,
      p50_ms: media.added_latency_ms.p50,
      p95_ms: media.added_latency_ms.p95,
      p99_ms: media.added_latency_ms.p99,
      errors: media.calls_failed + media.caller_frames_lost + media.agent_frames_lost + media.flush_media_received + media.turns_unmatched,
      statements_per_call: null,
      cpu_ms_per_call: media.cpu_ms_per_call_second,
      note: `latency added to an echo; frames lost ${media.caller_frames_lost} up / ${media.agent_frames_lost} down, FLUSH_MEDIA ${media.flush_media_received}, bridge ${media.bridge_rss_kib.per_session} KiB/session`,
      media,
    });
  }

  if (ONLY.has('7')) {
    // 7. A sustained rate through the bridge, then how soon after the load stops every call is in
    // Postgres with the id the bridge answered. autocannon spreads the rate over its connections,
    // and a connection whose answer comes after its next slot falls behind for good: enough
    // connections that each has 50 ms per call, so the rate offered is the rate asked.
    const connections = Math.max(CONNECTIONS, Math.ceil(RATE / 20));
    await spoolDrained();
    const before = await statementCount(admin);
    const cpuBefore = cpuSnapshot(pids);
    const result = await cannon(
      bridgeUrl,
      bridgeRequests(RATE * RATE_DURATION + 5_000, 'sustained'),
      (body) => body.startsWith('status=success'),
      { connections, duration: RATE_DURATION, overallRate: RATE },
    );
    const stopped = performance.now();
    let recorded = 0;
    while (performance.now() - stopped < 60_000) {
      recorded = await callsCreated('sustained');
      if (recorded >= result.completed) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const recordedAfterMs = performance.now() - stopped;
    const cpu = cpuPerCall(cpuBefore, cpuSnapshot(pids), result.completed, availableParallelism());
    const statementsPerCall = ((await statementCount(admin)) - before) / Math.max(1, recorded);
    metrics.sustained = { ...result, recordedAfterMs, recorded };
    rows.push({
      scenario: `7 sustained ${RATE.toLocaleString('en')} calls/s for ${RATE_DURATION} s → bridge`,
      calls_per_s: round1(result.perSecond),
      p50_ms: result.p50,
      p95_ms: result.p95,
      p99_ms: result.p99,
      errors: result.errors + (result.completed - Math.min(recorded, result.completed)),
      statements_per_call: round2(statementsPerCall),
      cpu_ms_per_call: cpu,
      note: `${connections} connections; ${recorded} of ${result.completed} in Postgres ${Math.round(recordedAfterMs)} ms after the load stopped`,
    });
  }

  metrics.postgresVersion = (await admin.query('show server_version')).rows[0].server_version as string;
  report(metrics);
}

interface Measured {
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
}

interface Metrics {
  postgresVersion?: string;
  direct?: Measured;
  bridge?: Measured;
  reference?: Measured;
  sustained?: Measured & { completed: number; recordedAfterMs: number; recorded: number };
  floor?: Measured;
  firstPage?: Measured;
  deepPage?: Measured;
  drainSeconds?: number;
  drainEvents: number;
  media?: MediaResult;
}

function report(m: Metrics) {
  const versions = {
    node: process.versions.node,
    postgres: m.postgresVersion,
    wrangler: packageVersion('wrangler'),
    miniflare: packageVersion('miniflare'),
    autocannon: packageVersion('autocannon'),
  };
  const header = ['scenario', 'calls/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'stmts/call', 'note'];
  const table = rows.map((r) =>
    [r.scenario, r.calls_per_s, r.p50_ms, r.p95_ms, r.p99_ms, r.errors, r.statements_per_call, r.note ?? ''].map((v) =>
      v === null || v === undefined ? '–' : String(v),
    ),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${table.map(line).join('\n')}`);
  if (m.media) console.log(`\n${describeMedia(m.media)}`);
  const measured = rows.filter((r) => r.cpu_ms_per_call);
  if (measured.length) {
    const cpuHeader = ['CPU ms per call', 'postgres', 'workerd', 'ws proxy', 'bridge', 'emulator', 'load generator', 'machine'];
    const cpuTable = measured.map((r) => {
      const cpu = r.cpu_ms_per_call as CpuPerCall;
      const name = r.media ? `${r.scenario} (per call-second)` : r.scenario;
      return [name, cpu.postgres, cpu.workerd, cpu.proxy, cpu.bridge, r.media ? cpu.emulator : '–', cpu.load, cpu.machine].map(String);
    });
    const cpuWidths = cpuHeader.map((h, i) => Math.max(h.length, ...cpuTable.map((r) => (r[i] as string).length)));
    const cpuLine = (cells: string[]) => cells.map((c, i) => c.padEnd(cpuWidths[i] as number)).join('  ');
    console.log(`\n${cpuLine(cpuHeader)}\n${cpuWidths.map((w) => '-'.repeat(w)).join('  ')}\n${cpuTable.map(cpuLine).join('\n')}`);
    console.log(
      '(machine: all cores busy time per call, whatever ran; the floor’s client is its load generator; in 6 the load generator is the fake Asterisk of every call)',
    );
  }
  console.log(
    `\n${availableParallelism()} cores · node ${versions.node} · postgres ${versions.postgres} · wrangler ${versions.wrangler} · miniflare ${versions.miniflare} · autocannon ${versions.autocannon}`,
  );

  const { direct, bridge, reference, firstPage, deepPage, media, sustained } = m;
  const statements = rows.filter((r) => /^[127] /.test(r.scenario)).map((r) => r.statements_per_call);
  // Routing at the PBX's targets for 2 (against its reference 2r, in the same run), and the earlier ones that still apply.
  const targets: Record<string, boolean | null> = {
    'bridge ≥ 70% of the reference’s calls/s (2 against 2r)': bridge && reference ? bridge.perSecond >= 0.7 * reference.perSecond : null,
    'bridge ≥ 2,500 calls/s': bridge ? bridge.perSecond >= 2500 : null,
    [`bridge p99 ≤ 5 ms at ${CONNECTIONS} connections`]: bridge ? bridge.p99 <= 5 : null,
    'zero errors on the inbound path': direct && bridge ? direct.errors === 0 && bridge.errors === 0 : null,
    'at most one statement per inbound call': statements.length > 0 ? statements.every((n) => n !== null && n <= 1) : null,
    'bridge adds ≤ 1 ms at p50': direct && bridge ? bridge.p50 - direct.p50 <= 1 : null,
    [`sustained ${RATE} calls/s: held, every call in Postgres within ${RECORDED_WITHIN_MS / 1000} s, zero errors`]: sustained
      ? sustained.perSecond >= 0.98 * RATE &&
        sustained.errors === 0 &&
        sustained.recorded >= sustained.completed &&
        sustained.recordedAfterMs <= RECORDED_WITHIN_MS
      : null,
    'deep page p99 ≤ 1.5× first page p99': firstPage && deepPage ? deepPage.p99 <= 1.5 * firstPage.p99 : null,
    [`${m.drainEvents} call-ended events drained within 30 s`]: m.drainSeconds === undefined ? null : m.drainSeconds <= 30,
    'media: no frame lost either way, nothing flushed, every call up': media
      ? media.calls_failed + media.caller_frames_lost + media.agent_frames_lost + media.flush_media_received === 0
      : null,
    [`media: the stack adds ≤ 20 ms at p99 to an echo (beyond the emulator’s ${EMULATOR_SILENCE_MS} ms)`]: media
      ? media.added_latency_ms.p99 <= 20
      : null,
  };
  for (const [target, met] of Object.entries(targets)) console.log(`${met === null ? 'not run' : met ? 'met    ' : 'MISSED '}  ${target}`);

  const out = OUT;
  mkdirSync(out, { recursive: true });
  const result = JSON.stringify(
    {
      at: new Date().toISOString(),
      cores: availableParallelism(),
      duration_s: DURATION,
      connections: CONNECTIONS,
      sessions: ONLY.has('6') ? SESSIONS : undefined,
      media_seconds: ONLY.has('6') ? MEDIA_SECONDS : undefined,
      pooler: Boolean(flags.pooler),
      versions,
      rows,
      targets,
    },
    null,
    2,
  );
  const file = join(out, `bench-${new Date().toISOString().replaceAll(':', '-')}.json`);
  writeFileSync(file, result);
  writeFileSync(join(out, 'latest.json'), result);
  console.log(`\nwritten to ${file}`);
}

function packageVersion(name: string): string {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url)), 'utf8')).version;
}

function round1(n: number) {
  return Math.round(n * 10) / 10;
}
function round2(n: number) {
  return Math.round(n * 100) / 100;
}

/** Requests still in flight when a scenario's clock stops finish before anything is counted. */
function settle() {
  return new Promise((resolve) => setTimeout(resolve, 1_000));
}

async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  if (PROFILE_DIR) console.log(`\n${describeProfiles(PROFILE_DIR)}\n\nCPU profiles and event-loop delays: ${PROFILE_DIR}`);
}
