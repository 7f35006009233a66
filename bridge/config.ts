// The bridge's settings, from the environment only, validated before anything starts: a missing
// or invalid one stops the daemon with a message naming it (never its value) and exit code 78.
import { isIP } from 'node:net';
import { z } from 'zod';
import { decodeSecret } from '../contract/signing.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const milliseconds = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

const schema = z
  .object({
    VCA_WORKER_URL: z.url({ protocol: /^https?$/ }).transform((value) => new URL(value)),
    VCA_SIGNING_SECRET: z.string().refine((secret) => decodeSecret(secret.trim()) !== null, 'must be whsec_ + base64 of 24–64 bytes'),
    BRIDGE_LISTEN: z
      .string()
      .default('127.0.0.1:8788')
      .transform((value, ctx) => {
        const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
        const host = match?.[1] ?? match?.[2];
        const port = Number(match?.[3]);
        if (!host || !(port > 0 && port < 65536) || (host !== 'localhost' && !isIP(host))) {
          ctx.addIssue({ code: 'custom', message: 'must be host:port, e.g. 127.0.0.1:8788' });
          return z.NEVER;
        }
        return { host, port };
      }),
    BRIDGE_ALLOW_REMOTE: z.enum(['0', '1']).default('0'),
    BRIDGE_SPOOL_DIR: z.string().min(1).default('/var/lib/vca-bridge'),
    /** How long a caller waits for the routing answer before the call is deferred. */
    BRIDGE_INBOUND_DEADLINE_MS: milliseconds(2_000, 30_000),
    /** Per attempt, for spooled deliveries. */
    BRIDGE_DELIVERY_TIMEOUT_MS: milliseconds(10_000, 120_000),
    /** Spooled events of different calls delivered at the same time (one call's events stay in order). */
    BRIDGE_DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(16),
    BRIDGE_RETRY_BASE_MS: milliseconds(500, 60_000),
    BRIDGE_RETRY_MAX_MS: milliseconds(60_000, 3_600_000),
    BRIDGE_SHUTDOWN_GRACE_MS: milliseconds(5_000, 60_000),
    /**
     * From Asterisk's media connection to the Worker's ready session (its 101); past it the call
     * is hung up. Below the dialplan's Dial() timeout (3 s), so the bridge says why, not Dial.
     */
    BRIDGE_MEDIA_START_MS: milliseconds(2_500, 30_000),
    /** How often the routing table asks the Worker for the routes changed since its version. */
    BRIDGE_ROUTES_SYNC_MS: z.coerce.number().int().min(100).max(600_000).default(1_000),
    /**
     * A table not synced for longer is not trusted: /inbound asks the Worker as before it. Also
     * how long a number deactivated while the Worker is unreachable keeps routing. 0: never
     * answer from the table.
     */
    BRIDGE_ROUTES_MAX_AGE_S: z.coerce
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600)
      .default(3_600),
  })
  .superRefine((settings, ctx) => {
    if (settings.BRIDGE_ALLOW_REMOTE !== '1' && !LOOPBACK.has(settings.BRIDGE_LISTEN.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['BRIDGE_LISTEN'],
        message:
          'is not a loopback address; the bridge takes unauthenticated requests from the PBX, so set BRIDGE_ALLOW_REMOTE=1 only behind a firewall',
      });
    }
  });

export type BridgeConfig = z.output<typeof schema>;

export function loadBridgeConfig(env: NodeJS.ProcessEnv): { ok: true; config: BridgeConfig } | { ok: false; problems: string[] } {
  const values = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const parsed = schema.safeParse(values);
  if (parsed.success) return { ok: true, config: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return values[name] === undefined
        ? `${name} is missing`
        : `${name} ${issue.message.startsWith('is ') ? issue.message : `is invalid: ${issue.message}`}`;
    }),
  };
}
