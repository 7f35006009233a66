import type { App } from '../../lib/env.ts';
import { registerCreateApiKey } from './create.ts';
import { registerGetApiKey } from './get.ts';
import { registerListApiKeys } from './list.ts';
import { registerRevokeApiKey } from './revoke.ts';

export function registerApiKeyRoutes(app: App) {
  registerCreateApiKey(app);
  registerListApiKeys(app);
  registerGetApiKey(app);
  registerRevokeApiKey(app);
}
