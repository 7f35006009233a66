// The benchmark's reference for the bridge's /inbound from its routing table: about the least a
// Node process can do for the same answer. node:http, an in-memory map from DID to route, the
// same reading of the DID (contract/phone.ts), a new call record id, and each routed call
// appended to SQLite with the same durability (WAL, synchronous=FULL) and the same group commit
// (one transaction for the requests of one turn of the event loop), answered in hashcompat form.
// Usage: node tools/bench-reference.ts <port> <routes.json: {did: {tenant_id, ai_profile_id}}> <sqlite file>
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { normalizeDid } from '../contract/phone.ts';

const [port, routesFile, databaseFile] = process.argv.slice(2) as [string, string, string];
const routes = new Map(
  Object.entries(JSON.parse(readFileSync(routesFile, 'utf8')) as Record<string, { tenant_id: string; ai_profile_id: string }>),
);
const db = new DatabaseSync(databaseFile);
db.exec(`
  pragma journal_mode = wal;
  pragma synchronous = full;
  create table if not exists calls (seq integer primary key autoincrement, call_id text not null, payload text not null, received_at integer not null);
`);
const insert = db.prepare('insert into calls (call_id, payload, received_at) values (?, ?, ?)');

let queue: { callId: string; payload: string; done: () => void }[] = [];
function commitSoon(callId: string, payload: string): Promise<void> {
  return new Promise((done) => {
    if (queue.push({ callId, payload, done }) === 1) setImmediate(commit);
  });
}
function commit() {
  const batch = queue;
  queue = [];
  db.exec('begin immediate');
  for (const entry of batch) insert.run(entry.callId, entry.payload, Date.now());
  db.exec('commit');
  for (const entry of batch) entry.done();
}

const server = createServer(async (request, response) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const fields = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const did = normalizeDid(fields.get('called_number') ?? '', 'IN');
  const route = did ? routes.get(did) : undefined;
  let answer: string;
  if (!route) answer = 'status=error&code=unknown_did';
  else {
    const id = randomUUID();
    await commitSoon(fields.get('call_id') ?? '', JSON.stringify({ ...Object.fromEntries(fields), call_record_id: id, ...route }));
    answer = `status=success&call_record_id=${id}&tenant_id=${route.tenant_id}&ai_profile_id=${route.ai_profile_id}&ai_profile_role=receptionist`;
  }
  response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(answer);
});
server.keepAliveTimeout = 5_000;
// Exits by itself on SIGTERM, so that a profiled run (bench --profile) writes its profile.
process.on('SIGTERM', () => process.exit(0));
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
