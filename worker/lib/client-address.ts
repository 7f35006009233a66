import type { Context } from 'hono';

/**
 * The caller's address as Cloudflare's edge saw it: the edge sets CF-Connecting-IP and overwrites
 * any value a client sent. The one place it is read (rate limits, the ingest allowlist, the audit log).
 */
export function clientAddress(c: Context): string | undefined {
  return c.req.header('cf-connecting-ip') ?? undefined;
}
