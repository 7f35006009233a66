// Text rules the API and the ingest share.
import type { z } from 'zod';

/**
 * Text that Postgres can store: no NUL characters (a `text` column refuses them, which would
 * otherwise surface as a 500). Everything else — any language, any symbol — is kept as sent.
 */
export function storableText<T extends z.ZodString>(schema: T) {
  return schema.refine((value) => !value.includes('\u0000'), 'must not contain NUL characters');
}
