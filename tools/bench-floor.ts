// The reference floor for the benchmark: a plain Node process that, for every call, opens a new
// Postgres connection (as vca_app, the same auth method as the Worker) and runs the same inbound
// statement. Every Worker request must connect anew, so this is the best the design can do here.
// Usage: node tools/bench-floor.ts <appDatabaseUrl> <dids,comma,separated> <seconds> <connections>
import { randomUUID } from 'node:crypto';
import pg from 'pg';

const [url, didList, seconds, connections] = process.argv.slice(2) as [string, string, string, string];
const dids = didList.split(',');
const deadline = performance.now() + Number(seconds) * 1000;
const latencies: number[] = [];
let errors = 0;

async function loop() {
  while (performance.now() < deadline) {
    const started = performance.now();
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      const did = dids[Math.floor(Math.random() * dids.length)];
      const { rows } = await client.query('select * from vca_record_inbound_call($1, $2, $3, to_timestamp($4))', [
        did,
        '+14155550100',
        `floor.${randomUUID()}`,
        Math.floor(Date.now() / 1000),
      ]);
      if (!rows[0]?.call_record_id) errors++;
      latencies.push(performance.now() - started);
    } catch {
      errors++;
    } finally {
      await client.end().catch(() => {});
    }
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: Number(connections) }, loop));
const elapsed = (performance.now() - started) / 1000;
process.stdout.write(JSON.stringify({ latencies, errors, elapsed }));
