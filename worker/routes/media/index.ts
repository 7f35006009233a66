import { requireSettings } from '../../lib/app.ts';
import type { App } from '../../lib/env.ts';
import { limitIngest } from '../../lib/rate-limit.ts';
import { requireAllowedAddress } from '../telephony/allowlist.ts';
import { requireTelnyx } from '../webhooks/telnyx/settings.ts';
import { requireTwilio, requireTwilioMediaSignature } from '../webhooks/twilio/signature.ts';
import { registerAsteriskMedia } from './asterisk.ts';
import { requireMediaSignature } from './signature.ts';
import { hideTelnyxMediaToken, registerTelnyxMedia, requireTelnyxMediaToken } from './telnyx.ts';
import { registerTwilioMedia } from './twilio.ts';

/**
 * The carriers' media WebSockets into the call sessions. Asterisk's comes from the bridge hosts,
 * signed with the ingest secret; Twilio's from anywhere on the internet, signed by the account;
 * Telnyx's from anywhere, with the call's token in the path (kept out of the log from the first step).
 */
export function registerMediaRoutes(app: App) {
  app.use('/internal/media/asterisk/*', requireSettings, requireAllowedAddress, limitIngest, requireMediaSignature);
  app.use('/internal/media/twilio/*', requireSettings, limitIngest, requireTwilio, requireTwilioMediaSignature);
  app.use('/internal/media/telnyx/*', hideTelnyxMediaToken, requireSettings, limitIngest, requireTelnyx, requireTelnyxMediaToken);
  registerAsteriskMedia(app);
  registerTwilioMedia(app);
  registerTelnyxMedia(app);
}
