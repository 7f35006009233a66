// The two statements of the telephony path. Both find the tenant only through the dialled
// number's phone_numbers row: no fallback, no default tenant. Cross-tenant by nature (the tenant
// is what they find out), so they cannot run inside withTenant.
import { sql } from 'drizzle-orm';
import type { Database } from '../lib/db.ts';
import { NORMAL_CLEARING_CAUSES } from './contract.ts';

export interface InboundResolution {
  tenant_id: string;
  phone_number_id: string;
  is_active: boolean;
  tenant_status: 'active' | 'suspended' | 'deleted';
  call_record_id: string | null;
  ai_profile_id: string | null;
  ai_profile_name: string | null;
  ai_profile_role: string | null;
}

export interface NewInboundCall {
  did: string;
  callerNumber: string | null;
  callId: string;
  startedAtSeconds: number;
}

/**
 * The hot path, in one statement: resolve the DID, check number and tenant are active, pick the
 * tenant's default AI profile and insert the call — or find the call this request already
 * created (idempotent on (tenant_id, external_call_id)). No row: the DID is unknown.
 */
export async function resolveAndRecordInboundCall(db: Database, call: NewInboundCall): Promise<InboundResolution | undefined> {
  const result = await db.execute<Record<string, unknown>>(sql`
    with did as (
      select p.id as phone_number_id, p.tenant_id, p.is_active, t.status as tenant_status
      from phone_numbers p join tenants t on t.id = p.tenant_id
      where p.did_number = ${call.did}
    ),
    existing as (
      select c.id, c.ai_profile_id
      from calls c join did on c.tenant_id = did.tenant_id
      where c.external_call_id = ${call.callId}
    ),
    inserted as (
      insert into calls (tenant_id, phone_number_id, ai_profile_id, direction, status, caller_number, called_number, external_call_id, started_at)
      select did.tenant_id, did.phone_number_id,
             (select a.id from ai_profiles a where a.tenant_id = did.tenant_id and a.is_default),
             'inbound', 'initiated', ${call.callerNumber}, ${call.did}, ${call.callId}, to_timestamp(${call.startedAtSeconds})
      from did
      where did.is_active and did.tenant_status = 'active' and not exists (select 1 from existing)
      on conflict (tenant_id, external_call_id) do nothing
      returning id, ai_profile_id
    ),
    call as (
      select id, ai_profile_id from inserted
      union all
      select id, ai_profile_id from existing
    )
    select did.tenant_id, did.phone_number_id, did.is_active, did.tenant_status,
           call.id as call_record_id, a.id as ai_profile_id, a.name as ai_profile_name, a.role as ai_profile_role
    from did
    left join call on true
    left join ai_profiles a on a.tenant_id = did.tenant_id and a.id = call.ai_profile_id
  `);
  return result.rows[0] as InboundResolution | undefined;
}

export interface CallEnd {
  did: string;
  callId: string;
  endedAtSeconds: number;
  durationSeconds: number;
  hangupCause: number;
}

/**
 * Ends the call of (tenant of the dialled number, external call id), whatever the number's or
 * tenant's state now. The first end wins: an ended or failed call is never changed again.
 * No row: no such call.
 */
export async function recordCallEnded(db: Database, end: CallEnd): Promise<{ id: string; status: 'ended' | 'failed' } | undefined> {
  const normal = sql.raw(NORMAL_CLEARING_CAUSES.join(', '));
  const result = await db.execute<Record<string, unknown>>(sql`
    with target as (
      select c.id, c.status
      from calls c join phone_numbers p on p.tenant_id = c.tenant_id
      where p.did_number = ${end.did} and c.external_call_id = ${end.callId}
    ),
    updated as (
      update calls c
      set status = (case when ${end.durationSeconds}::int = 0 and ${end.hangupCause}::int not in (${normal}) then 'failed' else 'ended' end)::call_status,
          ended_at = to_timestamp(${end.endedAtSeconds}),
          duration_seconds = ${end.durationSeconds}::int,
          hangup_cause = ${end.hangupCause}::int,
          answered_at = case when ${end.durationSeconds}::int > 0
                             then to_timestamp(${end.endedAtSeconds}) - make_interval(secs => ${end.durationSeconds}::int) end,
          updated_at = now()
      from target
      where c.id = target.id and c.status not in ('ended', 'failed')
      returning c.id, c.status
    )
    select target.id, coalesce(updated.status, target.status) as status
    from target left join updated on updated.id = target.id
  `);
  return result.rows[0] as { id: string; status: 'ended' | 'failed' } | undefined;
}
