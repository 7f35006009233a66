import type { App } from '../../lib/env.ts';
import { registerListAuditEvents } from './list.ts';

export function registerAuditEventRoutes(app: App) {
  registerListAuditEvents(app);
}
