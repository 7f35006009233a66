import type { Context } from 'hono';
import { normalizeDid } from '../../../contract/phone.ts';
import type { AppEnv } from '../../lib/env.ts';

/**
 * The dialled number of an ingest request in E.164, or null when it is not a phone number. Every
 * ingest route reads it here, once: carriers deliver national forms (Tata: Indian DIDs without
 * +91), read with DEFAULT_COUNTRY, and the rows hold E.164.
 */
export function dialledDid(c: Context<AppEnv>, calledNumber: string): string | null {
  return normalizeDid(calledNumber, c.var.settings.DEFAULT_COUNTRY);
}
