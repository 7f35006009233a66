// Settings come only from the Worker's environment (wrangler.toml [vars], .dev.vars locally,
// `wrangler secret put` in production). They are parsed once per env object; a missing or
// invalid required setting does not crash the Worker: /healthz names it and /api answers 503.

import ipaddr from 'ipaddr.js';
import { getCountries } from 'libphonenumber-js/max';
import { z } from 'zod';
import { decodeSecret } from '../../contract/signing.ts';

const COUNTRIES = new Set<string>(getCountries());

const postgresUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a postgres:// URL');

const tokenList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((token) => token.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().min(12, 'each token needs at least 12 characters')).min(1, 'needs at least one token'));

const signingSecrets = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((secret) => secret.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.string().refine((secret) => decodeSecret(secret) !== null, 'each secret must be whsec_ + base64 of 24–64 bytes'))
      .min(1, 'needs at least one secret'),
  );

// "203.0.113.10, 198.51.100.0/24, 2001:db8::/32": single addresses count as /32 or /128.
const cidrList = z.string().transform((value, ctx) => {
  const ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const entry of value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    try {
      if (entry.includes('/')) ranges.push(ipaddr.parseCIDR(entry));
      else {
        const address = ipaddr.parse(entry);
        ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
      }
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of IP addresses or CIDR ranges' });
      return z.NEVER;
    }
  }
  return ranges;
});

/** `https://host[:port]` (a trailing slash is dropped), normalised as the URL standard writes origins. */
function origin(message: string) {
  return z
    .string()
    .trim()
    .transform((value, ctx) => {
      try {
        const url = new URL(value);
        if ((url.protocol === 'https:' || url.protocol === 'http:') && url.pathname === '/' && !url.search && !url.hash && !url.username) {
          return url.origin;
        }
      } catch {}
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    });
}

const settingsSchema = z.object({
  DATABASE_URL: postgresUrl,
  ADMIN_API_TOKENS: tokenList,
  // Standard Webhooks secrets the bridge signs with; several while rotating.
  TELEPHONY_SIGNING_SECRETS: signingSecrets,
  APP_ENV: z.enum(['development', 'test', 'staging', 'production']),
  DEFAULT_COUNTRY: z
    .string()
    .trim()
    .toUpperCase()
    .refine((code) => COUNTRIES.has(code), 'must be an ISO 3166 alpha-2 country code'),
  // Optional: only these addresses may reach /internal/telephony (the bridge hosts).
  TELEPHONY_ALLOWED_IPS: cidrList.optional(),
  // The realtime voice model of the call sessions (OpenAI Realtime protocol). Without a key the
  // admin API and the ingest work, and every call session is refused as model_unavailable.
  REALTIME_URL: z.url({ protocol: /^(wss?|https?)$/ }).default('wss://api.openai.com/v1/realtime'),
  REALTIME_MODEL: z
    .string()
    .trim()
    .regex(/^[\w.:-]{1,100}$/, 'must be a model name')
    .default('gpt-realtime'),
  REALTIME_API_KEY: z.string().trim().min(1).optional(),
  // Twilio (DESIGN.md, "Cloud carriers"): off unless the account, its auth token and the public
  // origin are all set (twilioSettings below). The API base is only changed for tests.
  TWILIO_ACCOUNT_SID: z
    .string()
    .trim()
    .regex(/^AC[0-9a-fA-F]{32}$/, 'must be a Twilio Account SID (AC + 32 hex digits)')
    .optional(),
  TWILIO_AUTH_TOKEN: z
    .string()
    .trim()
    .regex(/^\S{16,128}$/, 'must be the account’s auth token')
    .optional(),
  TWILIO_API_BASE_URL: origin('must be an http(s) origin such as https://api.twilio.com').default('https://api.twilio.com'),
  // Telnyx (DESIGN.md, "Cloud carriers"): off unless its API key, the webhook public key, the Call
  // Control connection and the public origin are all set (telnyxSettings below).
  TELNYX_API_KEY: z
    .string()
    .trim()
    .regex(/^\S{16,256}$/, 'must be a Telnyx API key (KEY…)')
    .optional(),
  TELNYX_PUBLIC_KEY: z
    .string()
    .trim()
    .refine((value) => ed25519PublicKey(value) !== null, 'must be the base64 Ed25519 public key shown in Mission Control (32 bytes)')
    .optional(),
  TELNYX_CONNECTION_ID: z
    .string()
    .trim()
    .regex(/^[\w-]{1,64}$/, 'must be the id of a Call Control application (connection)')
    .optional(),
  TELNYX_API_BASE_URL: origin('must be an http(s) origin such as https://api.telnyx.com').default('https://api.telnyx.com'),
  // The Worker's public origin (https://vca.example.com): carrier webhook and media URLs are built
  // from it, and Twilio's signatures are computed over it.
  PUBLIC_BASE_URL: origin('must be an http(s) origin such as https://vca.example.com, without a path').optional(),
  // Local development only: host:port of the WebSocket→TCP proxy in tools/ws-proxy.ts.
  NEON_WS_PROXY: z
    .string()
    .trim()
    .regex(/^[\w.-]+:\d+$/, 'must be host:port')
    .optional(),
});

export type Settings = z.output<typeof settingsSchema>;

/** What the Twilio parts need, once all of it is set. */
export interface TwilioSettings {
  accountSid: string;
  authToken: string;
  /** The Worker's public origin, e.g. https://vca.example.com. */
  publicBaseUrl: string;
  apiBaseUrl: string;
}

/** Twilio is on when its account, auth token and the public origin are all set; otherwise this names what is missing. */
export function twilioSettings(settings: Settings): { ok: true; twilio: TwilioSettings } | { ok: false; missing: string[] } {
  const { TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken, PUBLIC_BASE_URL: publicBaseUrl } = settings;
  if (accountSid && authToken && publicBaseUrl) {
    return { ok: true, twilio: { accountSid, authToken, publicBaseUrl, apiBaseUrl: settings.TWILIO_API_BASE_URL } };
  }
  const missing = Object.entries({ TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken, PUBLIC_BASE_URL: publicBaseUrl })
    .filter(([, value]) => !value)
    .map(([name]) => name);
  return { ok: false, missing };
}

/** What the Telnyx parts need, once all of it is set. */
export interface TelnyxSettings {
  apiKey: string;
  /** The raw 32-byte Ed25519 key Telnyx signs its webhooks with. */
  publicKey: Uint8Array;
  connectionId: string;
  /** The Worker's public origin, e.g. https://vca.example.com. */
  publicBaseUrl: string;
  apiBaseUrl: string;
}

/** Telnyx is on when its API key, public key, connection and the public origin are all set; otherwise this names what is missing. */
export function telnyxSettings(settings: Settings): { ok: true; telnyx: TelnyxSettings } | { ok: false; missing: string[] } {
  const {
    TELNYX_API_KEY: apiKey,
    TELNYX_PUBLIC_KEY: publicKey,
    TELNYX_CONNECTION_ID: connectionId,
    PUBLIC_BASE_URL: publicBaseUrl,
  } = settings;
  const key = publicKey === undefined ? null : ed25519PublicKey(publicKey);
  if (apiKey && key && connectionId && publicBaseUrl) {
    return { ok: true, telnyx: { apiKey, publicKey: key, connectionId, publicBaseUrl, apiBaseUrl: settings.TELNYX_API_BASE_URL } };
  }
  const missing = Object.entries({
    TELNYX_API_KEY: apiKey,
    TELNYX_PUBLIC_KEY: key,
    TELNYX_CONNECTION_ID: connectionId,
    PUBLIC_BASE_URL: publicBaseUrl,
  })
    .filter(([, value]) => !value)
    .map(([name]) => name);
  return { ok: false, missing };
}

/** The 32 raw bytes of a base64 Ed25519 public key, or null when it is not one. */
function ed25519PublicKey(value: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]{43}=?$/.test(value)) return null;
  try {
    const bytes = Uint8Array.from(atob(value.endsWith('=') ? value : `${value}=`), (char) => char.charCodeAt(0));
    return bytes.length === 32 ? bytes : null;
  } catch {
    return null;
  }
}

export type ConfigResult = { ok: true; settings: Settings } | { ok: false; problems: string[]; environment: string | undefined };

const cache = new WeakMap<object, ConfigResult>();

export function loadConfig(env: Record<string, unknown>): ConfigResult {
  const cached = cache.get(env);
  if (cached) return cached;
  const values = blankToUndefined(env);
  const parsed = settingsSchema.safeParse(values);
  const result: ConfigResult = parsed.success
    ? { ok: true, settings: parsed.data }
    : {
        ok: false,
        // Names and reasons only: an invalid value may be a secret, so it is never echoed.
        problems: [...new Set(parsed.error.issues.map((issue) => describeIssue(issue, values)))],
        environment: typeof env.APP_ENV === 'string' ? env.APP_ENV : undefined,
      };
  cache.set(env, result);
  return result;
}

function describeIssue(issue: z.core.$ZodIssue, values: Record<string, unknown>): string {
  const name = String(issue.path[0]);
  return values[name] === undefined ? `${name} is missing` : `${name} is invalid`;
}

function blankToUndefined(env: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(env)) {
    out[key] = typeof value === 'string' && value.trim() === '' ? undefined : value;
  }
  return out;
}
