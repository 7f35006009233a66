import { requireSettings } from '../../../lib/app.ts';
import type { App } from '../../../lib/env.ts';
import { limitIngest } from '../../../lib/rate-limit.ts';
import { requireTwilio, requireTwilioSignature } from './signature.ts';
import { registerTwilioStatus } from './status.ts';
import { registerTwilioVoice } from './voice.ts';

/** Twilio's webhooks: Twilio must be configured (503), then every request signed by its account (401). */
export function registerTwilioWebhooks(app: App) {
  app.use('/webhooks/twilio/*', requireSettings, limitIngest, requireTwilio, requireTwilioSignature);
  app.openAPIRegistry.registerComponent('securitySchemes', 'twilioSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Twilio-Signature',
    description:
      'Twilio’s request signature: base64 HMAC-SHA1 with TWILIO_AUTH_TOKEN over PUBLIC_BASE_URL + path (a media upgrade: its wss:// URL), followed by each form parameter’s name and value, sorted by name. Webhooks must also name TWILIO_ACCOUNT_SID as AccountSid.',
  });
  registerTwilioVoice(app);
  registerTwilioStatus(app);
}
