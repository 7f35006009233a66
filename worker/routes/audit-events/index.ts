import type { App } from '../../lib/app.ts';
import { registerListAuditEvents } from './list.ts';

export function registerAuditEventRoutes(app: App) {
  registerListAuditEvents(app);
}
