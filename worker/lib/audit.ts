// The audit log: every admin mutation writes one row in the same transaction as the change, so
// there is never a change without its record nor a record without its change.
import type { Context } from 'hono';
import { auditEvents } from '../db/schema.ts';
import { clientAddress } from './client-address.ts';
import type { Transaction } from './db.ts';
import type { AppEnv } from './env.ts';

export type AuditAction =
  | 'tenant.created'
  | 'tenant.updated'
  | 'phone_number.created'
  | 'phone_number.updated'
  | 'ai_profile.created'
  | 'ai_profile.updated'
  | 'api_key.created'
  | 'api_key.revoked';

export interface AuditEntry {
  tenantId: string;
  action: AuditAction;
  resourceType: 'tenant' | 'phone_number' | 'ai_profile' | 'api_key';
  resourceId: string;
  /** Changed fields with their new values. Never secrets; long texts via `redactText`. */
  changes: Record<string, unknown>;
}

export async function recordAudit(tx: Transaction, c: Context<AppEnv>, entry: AuditEntry): Promise<void> {
  const actor = c.var.actor;
  await tx.insert(auditEvents).values({
    tenantId: entry.tenantId,
    actorType: actor.type,
    actorId: actor.id,
    action: entry.action,
    resourceType: entry.resourceType,
    resourceId: entry.resourceId,
    changes: withoutUndefined(entry.changes),
    requestId: c.var.requestId,
    sourceIp: clientAddress(c) ?? null,
  });
}

/** A prompt's full text does not belong in the log: only that it changed, and its size (null: it was cleared). */
export function redactText(text: string | null | undefined): { changed: true; length: number } | null | undefined {
  return typeof text === 'string' ? { changed: true, length: text.length } : text;
}

function withoutUndefined(changes: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
}
