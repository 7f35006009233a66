// `npm run build`: the production bundle, exactly as `wrangler deploy` would upload it, without
// deploying. Prints its gzipped size and fails above Cloudflare's 1 MiB (free plan) limit.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const LIMIT_BYTES = 1024 * 1024;
const outdir = fileURLToPath(new URL('../dist/worker', import.meta.url));
const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin/wrangler.js');

rmSync(outdir, { recursive: true, force: true });
const result = spawnSync(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', outdir], {
  stdio: 'inherit',
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
});
if (result.status !== 0) process.exit(result.status ?? 1);

const bundle = readFileSync(join(outdir, 'index.js'));
const gzipped = gzipSync(bundle, { level: 9 }).length;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(`worker bundle: ${kib(bundle.length)} raw, ${kib(gzipped)} gzipped (limit ${kib(LIMIT_BYTES)} gzipped)`);
if (gzipped > LIMIT_BYTES) {
  console.error('the gzipped Worker bundle is over 1 MiB');
  process.exit(1);
}
