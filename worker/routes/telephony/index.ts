import { requireSettings } from '../../lib/app.ts';
import type { App } from '../../lib/env.ts';
import { limitIngest } from '../../lib/rate-limit.ts';
import { requireAllowedAddress } from './allowlist.ts';
import { registerCallEnded } from './call-ended.ts';
import { registerCallEndedBatch } from './call-ended-batch.ts';
import { registerInboundCall } from './inbound.ts';
import { registerInboundBatch } from './inbound-batch.ts';
import { registerRoutes } from './routes.ts';
import { requireSignature } from './signature.ts';

export function registerTelephonyRoutes(app: App) {
  app.use('/internal/telephony/*', requireSettings, requireAllowedAddress, limitIngest, requireSignature);
  app.openAPIRegistry.registerComponent('securitySchemes', 'webhookSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'webhook-signature',
    description:
      'Standard Webhooks: `webhook-id`, `webhook-timestamp` (Unix seconds, ±300 s) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`) with a secret from TELEPHONY_SIGNING_SECRETS.',
  });
  registerInboundCall(app);
  registerCallEnded(app);
  registerCallEndedBatch(app);
  registerInboundBatch(app);
  registerRoutes(app);
}
