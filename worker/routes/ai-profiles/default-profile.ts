import { and, eq, ne, sql } from 'drizzle-orm';
import { aiProfiles, tenants } from '../../db/schema.ts';
import type { Transaction } from '../../lib/db.ts';

/**
 * Clears the tenant's current default profile (other than `keepId`) so another can take its
 * place in the same transaction. The tenant row lock serialises concurrent switches, so the
 * second one sees the first one's default and clears it instead of colliding with it on the
 * partial unique index.
 */
export async function clearDefaultProfile(tx: Transaction, tenantId: string, keepId?: string) {
  await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).for('no key update');
  await tx
    .update(aiProfiles)
    .set({ isDefault: false, updatedAt: sql`now()` })
    .where(and(eq(aiProfiles.tenantId, tenantId), eq(aiProfiles.isDefault, true), keepId ? ne(aiProfiles.id, keepId) : undefined));
}
