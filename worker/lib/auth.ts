// Who is calling /api: an operator (a token from ADMIN_API_TOKENS, several listed for rotation)
// or a tenant (an API key, `vca_…`, issued by an operator and stored only as a SHA-256 hash).
// A tenant key reaches only its own tenant's routes; anything else under /api/tenants/{id} is 404.

import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { toBase64url } from '../../contract/base64.ts';
import { findApiKey, touchApiKey } from '../db/cross-tenant.ts';
import { clientAddress } from './client-address.ts';
import type { Actor, AppEnv } from './env.ts';
import { ApiError, notFound } from './problem.ts';
import { enforce } from './rate-limit.ts';
import { toIso } from './time.ts';

const BEARER = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i;
export const API_KEY_PREFIX = 'vca_';
/** Characters of the secret (after `vca_`) stored in clear to find its row. */
const LOOKUP_LENGTH = 12;
const LAST_USED_RESOLUTION_MS = 60_000;

export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const presented = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
  if (!presented) throw unauthorized(false);
  const actor = presented.startsWith(API_KEY_PREFIX) ? await authenticateKey(c, presented) : await authenticateOperator(c, presented);
  c.set('actor', actor);
  await next();
});

/** For routes only operators may use (tenant listing, status and plan, key management). */
export const operatorOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (c.var.actor.type !== 'operator') {
    throw new ApiError(403, 'operator_only', 'Forbidden', 'Only an operator can do this; tenant API keys cannot.');
  }
  await next();
});

/** Under /api/tenants/{tenant_id}: a tenant key sees its own tenant, and nothing says others exist. */
export const scopeToTenant = createMiddleware<AppEnv>(async (c, next) => {
  const actor = c.var.actor;
  if (actor.type === 'api_key' && c.req.param('tenant_id') !== actor.tenantId) throw notFound('tenant');
  await next();
});

async function authenticateOperator(c: Context<AppEnv>, presented: string): Promise<Actor> {
  const want = await sha256(presented);
  let matched = 0;
  // Every configured token is compared, in constant time, so timing says nothing about which.
  for (const token of c.var.settings.ADMIN_API_TOKENS) matched |= constantTimeEqual(want, await sha256(token)) ? 1 : 0;
  if (matched !== 1) throw unauthorized(true);
  return { type: 'operator', id: `operator:${toHex(want).slice(0, 16)}` };
}

async function authenticateKey(c: Context<AppEnv>, presented: string): Promise<Actor> {
  // Every key check costs a database lookup: a budget per source address keeps guessing from
  // turning into load (a key's own budget applies once it is known).
  await enforce(c.env.API_RATE_LIMITER, `key-auth:${clientAddress(c) ?? 'unknown'}`);
  const db = c.var.db();
  const key = await findApiKey(db, lookupPrefix(presented));
  const hash = await sha256(presented);
  if (!key || !constantTimeEqual(hash, fromHex(key.secret_hash))) throw unauthorized(true);
  if (key.revoked_at !== null || (key.expires_at !== null && epochMs(key.expires_at) <= Date.now())) throw unauthorized(true);
  if (key.tenant_status !== 'active') {
    throw new ApiError(403, 'tenant_inactive', 'Forbidden', `The tenant of this API key is ${key.tenant_status}.`);
  }
  if (key.last_used_at === null || epochMs(key.last_used_at) < Date.now() - LAST_USED_RESOLUTION_MS) {
    // Off the critical path: the response does not wait for it.
    c.executionCtx.waitUntil(touchApiKey(db, key.id).catch(() => {}));
  }
  return { type: 'api_key', id: key.id, tenantId: key.tenant_id };
}

/** A new key: the secret (shown once), what to store (hash, lookup prefix). */
export async function generateApiKey(): Promise<{ secret: string; prefix: string; hash: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const secret = API_KEY_PREFIX + toBase64url(bytes);
  return { secret, prefix: lookupPrefix(secret), hash: toHex(await sha256(secret)) };
}

function lookupPrefix(secret: string): string {
  return secret.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + LOOKUP_LENGTH);
}

function unauthorized(presented: boolean) {
  return new ApiError(
    401,
    'unauthorized',
    'Unauthorized',
    'Send a valid operator token or tenant API key as "Authorization: Bearer <token>".',
    { headers: { 'www-authenticate': presented ? 'Bearer realm="vca", error="invalid_token"' : 'Bearer realm="vca"' } },
  );
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function fromHex(hex: string): Uint8Array {
  return new Uint8Array((hex.match(/../g) ?? []).map((pair) => Number.parseInt(pair, 16)));
}

function epochMs(value: string): number {
  return Date.parse(toIso(value));
}
