import { createMiddleware } from 'hono/factory';
import ipaddr from 'ipaddr.js';
import { clientAddress } from '../../lib/client-address.ts';
import type { AppEnv } from '../../lib/env.ts';
import { ApiError } from '../../lib/problem.ts';

/**
 * With TELEPHONY_ALLOWED_IPS set, only those addresses (the bridge hosts) reach the ingest at all:
 * others are refused before anything is read or verified.
 */
export const requireAllowedAddress = createMiddleware<AppEnv>(async (c, next) => {
  const ranges = c.var.settings.TELEPHONY_ALLOWED_IPS;
  if (ranges && !isAllowed(clientAddress(c), ranges)) {
    c.var.log.warn('telephony request from an address not in TELEPHONY_ALLOWED_IPS', { source_ip: clientAddress(c) ?? null });
    throw new ApiError(403, 'ip_not_allowed', 'Forbidden', 'This address may not send telephony events.');
  }
  await next();
});

export function isAllowed(address: string | undefined, ranges: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][]): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return ranges.some((range) => range[0].kind() === parsed.kind() && parsed.match(range));
}
