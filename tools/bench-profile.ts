// `npm run bench -- --profile`: the bridge and the reference run under --cpu-prof with their
// event loops' delays measured (bench-loop-delay.ts, preloaded); once they have exited this
// prints where each one's time went: the functions with the most samples of their own (self)
// and with the most below them (inclusive). V8 samples the main thread by the clock, so time
// spent blocked in a call (a commit's fsync, say) counts for the function that made it, and
// (idle) is the loop waiting for work. Also usable alone: node tools/bench-profile.ts <dir>.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMain } from './is-main.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Milliseconds by function (name, file, line): its own samples, and those below it too. */
export function profileTop(profile: Profile): { totalMs: number; self: [string, number][]; inclusive: [string, number][] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const name = (node: ProfileNode) => {
    const file = node.callFrame.url.split('/').slice(-2).join('/');
    return `${node.callFrame.functionName || '(anonymous)'}${file ? ` ${file}:${node.callFrame.lineNumber + 1}` : ''}`;
  };
  const perNode = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const us = profile.timeDeltas[index] ?? 0;
    perNode.set(id, (perNode.get(id) ?? 0) + us);
    total += us;
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of perNode) {
    const node = byId.get(id) as ProfileNode;
    self.set(name(node), (self.get(name(node)) ?? 0) + us);
    // A recursive function counts once per sample.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = name(byId.get(at) as ProfileNode);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const sorted = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).map(([key, us]): [string, number] => [key, Math.round(us / 100) / 10]);
  return { totalMs: Math.round(total / 1000), self: sorted(self), inclusive: sorted(inclusive) };
}

/** The top entries of every profile in `dir`, with the loop delays of the same process. */
export function describeProfiles(dir: string, top = 20): string {
  const lines: string[] = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
    const pid = file.split('.')[3];
    let delay = '';
    try {
      delay = readFileSync(join(dir, `loop-delay-${pid}.json`), 'utf8').trim();
    } catch {}
    const profile = profileTop(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile);
    const script = delay ? (JSON.parse(delay) as { script: string }).script.split('/').slice(-2).join('/') : `pid ${pid}`;
    const row = ([key, ms]: [string, number]) =>
      `  ${((100 * ms) / Math.max(1, profile.totalMs)).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(7)} ms  ${key}`;
    lines.push(`${script}: ${profile.totalMs} ms sampled (${file})`, `  event-loop delay: ${delay || 'not measured'}`);
    lines.push('  self:', ...profile.self.slice(0, top).map(row), '  inclusive:', ...profile.inclusive.slice(0, top).map(row));
  }
  return lines.join('\n');
}

if (isMain(import.meta.url)) console.log(describeProfiles(process.argv[2] ?? '.', Number(process.argv[3] ?? 20)));
