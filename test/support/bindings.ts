import { inject } from 'vitest';
import { OPERATOR_TOKENS, SIGNING_SECRETS } from './constants.ts';

/** The bindings of the suite's Worker, for tests that start a Worker of their own with changes. */
export function workerBindings(changes: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: inject('appDatabaseUrl'),
    ADMIN_API_TOKENS: OPERATOR_TOKENS.join(','),
    TELEPHONY_SIGNING_SECRETS: SIGNING_SECRETS.join(','),
    APP_ENV: 'test',
    DEFAULT_COUNTRY: 'IN',
    NEON_WS_PROXY: inject('wsProxy'),
    ...changes,
  };
}
