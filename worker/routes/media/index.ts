import { requireSettings } from '../../lib/app.ts';
import type { App } from '../../lib/env.ts';
import { limitIngest } from '../../lib/rate-limit.ts';
import { requireAllowedAddress } from '../telephony/allowlist.ts';
import { requireTwilio, requireTwilioMediaSignature } from '../webhooks/twilio/signature.ts';
import { registerAsteriskMedia } from './asterisk.ts';
import { requireMediaSignature } from './signature.ts';
import { registerTwilioMedia } from './twilio.ts';

/**
 * The carriers' media WebSockets into the call sessions. Asterisk's comes from the bridge hosts,
 * signed with the ingest secret; Twilio's from anywhere on the internet, signed by the account.
 */
export function registerMediaRoutes(app: App) {
  app.use('/internal/media/asterisk/*', requireSettings, requireAllowedAddress, limitIngest, requireMediaSignature);
  app.use('/internal/media/twilio/*', requireSettings, limitIngest, requireTwilio, requireTwilioMediaSignature);
  registerAsteriskMedia(app);
  registerTwilioMedia(app);
}
