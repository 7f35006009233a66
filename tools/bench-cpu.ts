// Where the benchmark's CPU goes: CPU time per process group of the local stack, read from /proc
// (Linux only; elsewhere the breakdown is left out). Postgres starts a process per connection:
// a backend's time is counted while it runs and, once it exits, in the postmaster's time of
// reaped children, so short-lived backends are not missed.
import { readdirSync, readFileSync } from 'node:fs';

export type ProcessGroup = 'postgres' | 'workerd' | 'proxy' | 'bridge' | 'emulator' | 'load';

const TICKS_PER_SECOND = 100;

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime, and cutime + cstime (waited-for children), in ms. */
  own: number;
  children: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ms = (index: number) => (Number(fields[index]) / TICKS_PER_SECOND) * 1000;
    return { pid, ppid: Number(fields[1]), own: ms(11) + ms(12), children: ms(13) + ms(14) };
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

export interface CpuSnapshot {
  at: number;
  ms: Record<ProcessGroup, number>;
  /** Busy and total jiffies of the whole machine. */
  machine: { busy: number; total: number };
}

/**
 * CPU used so far by each group. Children of this process: the postmaster (with its live children
 * and reaped backends) and workerd; the proxy and the bridge by pid; `load` is this process and the
 * children it waited for (the floor's client). With --pooler, PgBouncer counts as postgres. The
 * realtime model emulator (the media scenario's stand-in for the model) by pid, when it runs.
 */
export function cpuSnapshot(pids: { proxy?: number; bridge?: number; pooler?: number; emulator?: number }): CpuSnapshot | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const stats = entries.map((name) => readStat(Number(name))).filter((stat): stat is Stat => stat !== undefined);
  const ms: Record<ProcessGroup, number> = { postgres: 0, workerd: 0, proxy: 0, bridge: 0, emulator: 0, load: 0 };
  for (const stat of stats) {
    if (stat.ppid !== process.pid) continue;
    const command = commandLine(stat.pid);
    if (command.includes('workerd')) ms.workerd += stat.own + stat.children;
    else if (/(^|\/)postgres\0/.test(command)) {
      ms.postgres += stat.own + stat.children;
      for (const child of stats) if (child.ppid === stat.pid) ms.postgres += child.own;
    }
  }
  const self = readStat(process.pid);
  const byPid = (pid: number | undefined) => (pid === undefined ? 0 : (stats.find((stat) => stat.pid === pid)?.own ?? 0));
  // PgBouncer (--pooler) counts as the database side. It runs as a child of this process too.
  ms.postgres += byPid(pids.pooler);
  ms.proxy = byPid(pids.proxy);
  ms.bridge = byPid(pids.bridge);
  ms.emulator = byPid(pids.emulator);
  // The proxy, bridge and emulator are children too; once reaped their time would be in ours, but they live
  // until the end. The floor's client is waited for, so it lands in our children's time.
  ms.load = (self?.own ?? 0) + (self?.children ?? 0);
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.split(/\s+/).slice(1).map(Number) ?? [];
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const total = cpu.reduce((sum, value) => sum + value, 0);
  return { at: performance.now(), ms, machine: { busy: total - idle, total } };
}

export type CpuPerCall = Record<ProcessGroup, number> & { machine: number };

/** CPU ms per call between two snapshots, by group, and for the whole machine (all cores); per whatever `calls` counts (call-seconds for the media scenario). */
export function cpuPerCall(
  before: CpuSnapshot | undefined,
  after: CpuSnapshot | undefined,
  calls: number,
  cores: number,
): CpuPerCall | undefined {
  if (!before || !after || calls === 0) return undefined;
  const perCall = (ms: number) => Math.round((ms / calls) * 100) / 100;
  const groups = Object.fromEntries(
    (Object.keys(before.ms) as ProcessGroup[]).map((group) => [group, perCall(after.ms[group] - before.ms[group])]),
  ) as Record<ProcessGroup, number>;
  const busyShare = (after.machine.busy - before.machine.busy) / Math.max(1, after.machine.total - before.machine.total);
  return { ...groups, machine: perCall(busyShare * cores * (after.at - before.at)) };
}
