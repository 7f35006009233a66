// Preloaded (node --import) into the bridge and the reference by `npm run bench -- --profile`:
// how long their event loops stalled, written as JSON beside their CPU profiles when they exit.
// A p99 latency far above the CPU per call is a loop blocked (a long fsync, a large
// transaction, GC) rather than a loop busy, and this tells the two apart. On Linux also the time
// the main thread spent on a CPU and waiting for one (/proc/thread-self/schedstat): on a machine
// with more runnable processes than cores, a loop that is ready waits its turn.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const dir = process.env.BENCH_PROFILE_DIR;
if (dir) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  process.on('exit', () => {
    delay.disable();
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    let sched: { on_cpu_ms: number; waiting_for_cpu_ms: number } | undefined;
    try {
      const [onCpu, waiting] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number) as [number, number];
      sched = { on_cpu_ms: Math.round(onCpu / 1e6), waiting_for_cpu_ms: Math.round(waiting / 1e6) };
    } catch {}
    const summary = {
      script: process.argv[1],
      samples: delay.count,
      mean_ms: ms(delay.mean),
      p50_ms: ms(delay.percentile(50)),
      p99_ms: ms(delay.percentile(99)),
      p999_ms: ms(delay.percentile(99.9)),
      max_ms: ms(delay.max),
      ...sched,
    };
    writeFileSync(join(dir, `loop-delay-${process.pid}.json`), `${JSON.stringify(summary)}\n`);
  });
}
