import type { App } from '../../lib/env.ts';
import { registerCreatePhoneNumber } from './create.ts';
import { registerGetPhoneNumber } from './get.ts';
import { registerListPhoneNumbers } from './list.ts';
import { registerUpdatePhoneNumber } from './update.ts';

export function registerPhoneNumberRoutes(app: App) {
  registerCreatePhoneNumber(app);
  registerListPhoneNumbers(app);
  registerGetPhoneNumber(app);
  registerUpdatePhoneNumber(app);
}
