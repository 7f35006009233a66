// The suite's Worker writes one JSON line per log entry to a file (tools/miniflare-worker.ts);
// workerd flushes it asynchronously, so a test waits for the entry it expects.
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';

export type LogEntry = Record<string, unknown>;

/** The first entry that matches, waiting up to ~5 s for it; undefined if none arrived. Also returns the whole log. */
export async function findLogEntry(
  matches: (entry: LogEntry) => boolean,
  file = inject('workerLog'),
): Promise<{ entry: LogEntry | undefined; text: string }> {
  let text = '';
  for (let i = 0; i < 50; i++) {
    text = readFileSync(file, 'utf8');
    const entry = text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogEntry)
      .find(matches);
    if (entry) return { entry, text };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { entry: undefined, text };
}
