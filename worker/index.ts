// The Worker: builds the app and registers every route. Each route lives in its own file under
// routes/; cross-cutting behaviour (errors, auth, database, pagination) lives in lib/.
import pkg from '../package.json' with { type: 'json' };
import { createApp, noStore, requireSettings } from './lib/app.ts';
import { authenticate, scopeToTenant } from './lib/auth.ts';
import { limitApi } from './lib/rate-limit.ts';
import { registerAiProfileRoutes } from './routes/ai-profiles/index.ts';
import { registerApiKeyRoutes } from './routes/api-keys/index.ts';
import { registerAuditEventRoutes } from './routes/audit-events/index.ts';
import { registerCallRoutes } from './routes/calls/index.ts';
import { registerHealth } from './routes/health.ts';
import { registerMediaRoutes } from './routes/media/index.ts';
import { registerPhoneNumberRoutes } from './routes/phone-numbers/index.ts';
import { registerRoot } from './routes/root.ts';
import { registerTelephonyRoutes } from './routes/telephony/index.ts';
import { registerTenantRoutes } from './routes/tenants/index.ts';
import { registerTelnyxWebhooks } from './routes/webhooks/telnyx/index.ts';
import { registerTwilioWebhooks } from './routes/webhooks/twilio/index.ts';

const app = createApp();

// Credentials, tenant data, auth failures and the health report never belong in a cache. First,
// so that it also marks the answers of middleware that refuses a request.
for (const path of ['/api/*', '/internal/*', '/webhooks/*', '/healthz']) app.use(path, noStore);

registerRoot(app, pkg.version);
registerHealth(app);

app.use('/api/*', requireSettings, authenticate, limitApi);
// Every route under a tenant, present and future: a tenant key sees its own tenant only.
app.use('/api/tenants/:tenant_id', scopeToTenant);
app.use('/api/tenants/:tenant_id/*', scopeToTenant);
registerTenantRoutes(app);
registerPhoneNumberRoutes(app);
registerAiProfileRoutes(app);
registerCallRoutes(app);
registerApiKeyRoutes(app);
registerAuditEventRoutes(app);

registerTelephonyRoutes(app);
registerTwilioWebhooks(app);
registerTelnyxWebhooks(app);
registerMediaRoutes(app);

export default app;
// The Durable Object classes the Worker declares (wrangler.toml).
export { CallSession } from './session/call-session.ts';
