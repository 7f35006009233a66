import { requireSettings } from '../../lib/app.ts';
import type { App } from '../../lib/env.ts';
import { limitIngest } from '../../lib/rate-limit.ts';
import { requireAllowedAddress } from '../telephony/allowlist.ts';
import { registerAsteriskMedia } from './asterisk.ts';
import { requireMediaSignature } from './signature.ts';

/** The carriers' media WebSockets into the call sessions. Asterisk's comes from the bridge hosts. */
export function registerMediaRoutes(app: App) {
  app.use('/internal/media/asterisk/*', requireSettings, requireAllowedAddress, limitIngest, requireMediaSignature);
  registerAsteriskMedia(app);
}
