import type { App } from '../../lib/env.ts';
import { registerCreateTenant } from './create.ts';
import { registerGetTenant } from './get.ts';
import { registerListTenants } from './list.ts';
import { registerUpdateTenant } from './update.ts';

export function registerTenantRoutes(app: App) {
  registerListTenants(app);
  registerCreateTenant(app);
  registerGetTenant(app);
  registerUpdateTenant(app);
}
