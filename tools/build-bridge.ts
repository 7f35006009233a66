// `npm run build:bridge`: the bridge as one file, dist/vca-bridge.mjs, that runs with plain
// `node` (>= 22.13, for node:sqlite) and no node_modules on the PBX host.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { isMain } from './is-main.ts';

export async function buildBridge(outfile: string): Promise<number> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../bridge/main.ts', import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22.13',
    // undici is CommonJS; inside an ES module bundle its require() calls need a real require.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
    },
    // ws's optional native speed-ups: it requires them inside try/catch and falls back to plain
    // JavaScript, which is what runs on the PBX (nothing beside the bundle to find them in).
    external: ['bufferutil', 'utf-8-validate'],
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  return Object.values(result.metafile.outputs)[0]?.bytes ?? 0;
}

if (isMain(import.meta.url)) {
  const outfile = fileURLToPath(new URL('../dist/vca-bridge.mjs', import.meta.url));
  const bytes = await buildBridge(outfile);
  console.log(`bridge bundle: ${outfile} (${(bytes / 1024).toFixed(1)} KiB); run it with: node ${outfile}`);
}
