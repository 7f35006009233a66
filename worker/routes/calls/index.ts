import type { App } from '../../lib/app.ts';
import { registerGetCall } from './get.ts';
import { registerListCalls } from './list.ts';

export function registerCallRoutes(app: App) {
  registerListCalls(app);
  registerGetCall(app);
}
