import { requireSettings } from '../../../lib/app.ts';
import type { App } from '../../../lib/env.ts';
import { limitIngest } from '../../../lib/rate-limit.ts';
import { TELNYX_WEBHOOK_PATH } from '../../../telephony/telnyx.ts';
import { registerTelnyxCallControl } from './call-control.ts';
import { requireTelnyx } from './settings.ts';
import { requireTelnyxSignature } from './signature.ts';

/** Telnyx's webhook: Telnyx must be configured (503), then every request signed by its account's key (401). */
export function registerTelnyxWebhooks(app: App) {
  app.use(TELNYX_WEBHOOK_PATH, requireSettings, limitIngest, requireTelnyx, requireTelnyxSignature);
  app.openAPIRegistry.registerComponent('securitySchemes', 'telnyxSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'telnyx-signature-ed25519',
    description:
      'Telnyx’s webhook signature (API v2): base64 Ed25519 signature, by the account’s key pair (public key TELNYX_PUBLIC_KEY, Mission Control → Keys & Credentials → Public Key), of the `telnyx-timestamp` header, `|` and the raw body; the `telnyx-timestamp` header (Unix seconds) must be within 300 s of the Worker’s clock.',
  });
  registerTelnyxCallControl(app);
}
