// The Worker's own database helper, opened in Node exactly as the Worker opens it: the Neon
// driver, through the local WebSocket proxy, logged in as the application role (under row-level
// security). For tests of worker code that takes a Database (the session records, RLS).
import { createRequire } from 'node:module';
import { neonConfig } from '@neondatabase/serverless';
import { inject } from 'vitest';
import { openDatabase } from '../../worker/lib/db.ts';

export function openAppDatabase(): ReturnType<typeof openDatabase> {
  // In Node the driver is given the ws package's WebSocket, as the local tools use (workerd has its own).
  neonConfig.webSocketConstructor = createRequire(import.meta.url)('ws');
  return openDatabase({
    DATABASE_URL: inject('appDatabaseUrl'),
    NEON_WS_PROXY: inject('wsProxy'),
    ADMIN_API_TOKENS: [],
    TELEPHONY_SIGNING_SECRETS: [],
    APP_ENV: 'test',
    DEFAULT_COUNTRY: 'IN',
    REALTIME_URL: inject('realtimeUrl'),
    REALTIME_MODEL: 'gpt-realtime',
    TWILIO_API_BASE_URL: 'https://api.twilio.com',
    TELNYX_API_BASE_URL: 'https://api.telnyx.com',
  });
}
