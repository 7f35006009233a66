import type { App } from '../../lib/env.ts';
import { registerCreateAiProfile } from './create.ts';
import { registerGetAiProfile } from './get.ts';
import { registerListAiProfiles } from './list.ts';
import { registerUpdateAiProfile } from './update.ts';

export function registerAiProfileRoutes(app: App) {
  registerCreateAiProfile(app);
  registerListAiProfiles(app);
  registerGetAiProfile(app);
  registerUpdateAiProfile(app);
}
