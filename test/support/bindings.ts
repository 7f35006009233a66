// The test Worker's bindings, defined once: global setup starts the suite's Worker with them, and
// tests that start a Worker of their own take the same with their changes.
import { inject } from 'vitest';
import {
  OPERATOR_TOKENS,
  PUBLIC_BASE_URL,
  REALTIME_API_KEY,
  SIGNING_SECRETS,
  TELNYX_API_KEY,
  TELNYX_CONNECTION_ID,
  TELNYX_PUBLIC_KEY,
  TWILIO_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN,
} from './constants.ts';

/** Where the test stack's Worker reaches its database. */
export interface TestStack {
  /** The application role, under row-level security, as in production. */
  appDatabaseUrl: string;
  /** host:port of the local WebSocket proxy the Neon driver goes through. */
  wsProxy: string;
  /** The realtime model emulator (tools/realtime-emulator.ts) the call sessions talk to. */
  realtimeUrl: string;
  /** The stand-in for Twilio's REST API (test/support/twilio-api.ts). */
  twilioApiUrl: string;
  /** The stand-in for Telnyx's API (test/support/telnyx-api.ts). */
  telnyxApiUrl: string;
}

/** The bindings of a Worker on `stack`, with `changes` on top. */
export function testBindings(stack: TestStack, changes: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: stack.appDatabaseUrl,
    ADMIN_API_TOKENS: OPERATOR_TOKENS.join(','),
    TELEPHONY_SIGNING_SECRETS: SIGNING_SECRETS.join(','),
    APP_ENV: 'test',
    DEFAULT_COUNTRY: 'IN',
    NEON_WS_PROXY: stack.wsProxy,
    REALTIME_URL: stack.realtimeUrl,
    REALTIME_API_KEY: REALTIME_API_KEY,
    REALTIME_MODEL: 'gpt-realtime',
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_API_BASE_URL: stack.twilioApiUrl,
    TELNYX_API_KEY,
    TELNYX_PUBLIC_KEY,
    TELNYX_CONNECTION_ID,
    TELNYX_API_BASE_URL: stack.telnyxApiUrl,
    PUBLIC_BASE_URL,
    ...changes,
  };
}

/** The bindings of the suite's Worker, for tests that start a Worker of their own with changes. */
export function workerBindings(changes: Record<string, string> = {}): Record<string, string> {
  return testBindings(
    {
      appDatabaseUrl: inject('appDatabaseUrl'),
      wsProxy: inject('wsProxy'),
      realtimeUrl: inject('realtimeUrl'),
      twilioApiUrl: inject('twilioApiUrl'),
      telnyxApiUrl: inject('telnyxApiUrl'),
    },
    changes,
  );
}
