import type { App } from '../../lib/env.ts';
import { registerGetCall } from './get.ts';
import { registerListCalls } from './list.ts';
import { registerCallStats } from './stats.ts';
import { registerGetCallTranscript } from './transcript.ts';

export function registerCallRoutes(app: App) {
  registerListCalls(app);
  // Before /calls/{call_id}, which would otherwise claim the path.
  registerCallStats(app);
  registerGetCall(app);
  registerGetCallTranscript(app);
}
