// The shape of the source tree, as the design draws it: contract/ is shared by the Worker and the
// bridge and imports neither; the bridge never reaches into the Worker nor the Worker into the
// bridge; nothing in the product imports tools/ or tests; and no module imports itself in a circle.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** file → the project files it imports (packages left out). */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)]
      .map((match) => match[1] ?? match[2] ?? '')
      .filter((target) => target.startsWith('.'))
      .map((target) => relative(ROOT, resolve(ROOT, dirname(file), target)));
    graph.set(file, targets);
  }
  return graph;
}

const graph = importGraph([...sources('contract'), ...sources('worker'), ...sources('bridge')]);
const edges = [...graph].flatMap(([from, targets]) => targets.map((to) => ({ from, to })));

describe('source layout', () => {
  it('reads the imports of every product file', () => {
    expect(graph.size).toBeGreaterThan(40);
    expect(graph.get('bridge/forwarder.ts')).toContain('contract/signing.ts');
  });

  it('keeps contract/ free of the Worker and the bridge', () => {
    expect(edges.filter(({ from, to }) => from.startsWith('contract/') && !to.startsWith('contract/'))).toEqual([]);
  });

  it('keeps the bridge out of the Worker and the Worker out of the bridge', () => {
    expect(edges.filter(({ from, to }) => from.startsWith('bridge/') && to.startsWith('worker/'))).toEqual([]);
    expect(edges.filter(({ from, to }) => from.startsWith('worker/') && to.startsWith('bridge/'))).toEqual([]);
  });

  it('never imports tools or tests into the product', () => {
    expect(edges.filter(({ to }) => to.startsWith('tools/') || to.startsWith('test/'))).toEqual([]);
  });

  it('has no import circle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'visiting');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
