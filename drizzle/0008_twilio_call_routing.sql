-- Twilio calls (0007 added the `twilio` provider type and calls.carrier) under the rules of 0002.
--
-- 1. The inbound resolve-and-record learns which carrier is asking: a number is found only among
--    the numbers of that provider type, so a Twilio webhook for a `generic` number (or the bridge
--    asking about a `twilio` number) meets an unknown number; the call records its carrier. The
--    new parameter defaults to 'generic', so a Worker that still calls the four-argument form (the
--    bridge's ingest before this deploy) keeps working: drop and create run in one transaction.
-- 2. vca_record_call_progress: a carrier's "ringing" / "answered" for a call, forward only.
-- No literal of the new enum value appears here: the migrations run in one transaction, and a
-- value added by ALTER TYPE ... ADD VALUE may not be used before that transaction commits.
DROP FUNCTION vca_record_inbound_call(text, text, text, timestamptz);
--> statement-breakpoint
CREATE FUNCTION vca_record_inbound_call(p_did text, p_caller_number text, p_call_id text, p_started_at timestamptz, p_provider provider_type DEFAULT 'generic')
RETURNS TABLE (
  tenant_id uuid, phone_number_id uuid, is_active boolean, tenant_status tenant_status,
  call_record_id uuid, ai_profile_id uuid, ai_profile_name text, ai_profile_role ai_profile_role
)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  WITH did AS (
    SELECT p.id AS phone_number_id, p.tenant_id, p.is_active, p.provider_type, t.status AS tenant_status
    FROM phone_numbers p JOIN tenants t ON t.id = p.tenant_id
    WHERE p.did_number = p_did AND p.provider_type = p_provider
  ),
  existing AS (
    SELECT c.id, c.ai_profile_id
    FROM calls c JOIN did ON c.tenant_id = did.tenant_id
    WHERE c.external_call_id = p_call_id
  ),
  inserted AS (
    INSERT INTO calls (tenant_id, phone_number_id, ai_profile_id, direction, status, caller_number, called_number, external_call_id, carrier, started_at)
    SELECT did.tenant_id, did.phone_number_id,
           (SELECT a.id FROM ai_profiles a WHERE a.tenant_id = did.tenant_id AND a.is_default),
           'inbound', 'initiated', p_caller_number, p_did, p_call_id, did.provider_type, p_started_at
    FROM did
    WHERE did.is_active AND did.tenant_status = 'active' AND NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (tenant_id, external_call_id) DO NOTHING
    RETURNING id, ai_profile_id
  ),
  call AS (
    SELECT id, ai_profile_id FROM inserted
    UNION ALL
    SELECT id, ai_profile_id FROM existing
  )
  SELECT did.tenant_id, did.phone_number_id, did.is_active, did.tenant_status,
         call.id, a.id, a.name, a.role
  FROM did
  LEFT JOIN call ON true
  LEFT JOIN ai_profiles a ON a.tenant_id = did.tenant_id AND a.id = call.ai_profile_id
$$;
--> statement-breakpoint
-- A carrier says the call is ringing or answered: the call of (tenant of the dialled number,
-- external call id), found whatever the number's or tenant's state now, moves there only forward
-- (initiated → ringing → answered; an ended or failed call never moves again), so callbacks that
-- arrive late, twice or out of order change nothing. answered_at is set once. Ends go through
-- vca_record_calls_ended (0003), the one home of the call-end rules. No row: no such call.
CREATE FUNCTION vca_record_call_progress(p_did text, p_call_id text, p_status call_status, p_at timestamptz)
RETURNS TABLE (id uuid, status call_status)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  WITH target AS (
    -- Locked, so a concurrent end is waited for and its result read, not the state before it.
    SELECT c.id, c.status
    FROM calls c JOIN phone_numbers p ON p.tenant_id = c.tenant_id
    WHERE p.did_number = p_did AND c.external_call_id = p_call_id
    FOR UPDATE OF c
  ),
  updated AS (
    UPDATE calls c
    SET status = p_status,
        answered_at = CASE WHEN p_status = 'answered' THEN coalesce(c.answered_at, p_at) ELSE c.answered_at END,
        updated_at = now()
    FROM target
    WHERE c.id = target.id
      AND (CASE target.status WHEN 'initiated' THEN 0 WHEN 'ringing' THEN 1 WHEN 'answered' THEN 2 ELSE 3 END)
        < (CASE p_status WHEN 'ringing' THEN 1 WHEN 'answered' THEN 2 ELSE 0 END)
    RETURNING c.id, c.status
  )
  SELECT target.id, coalesce(updated.status, target.status)
  FROM target LEFT JOIN updated ON updated.id = target.id
$$;
--> statement-breakpoint
-- As in 0002: the new owner needs CREATE on the schema for the hand-over when a non-superuser
-- (Neon's owner role) runs this.
GRANT CREATE ON SCHEMA public TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_record_inbound_call(text, text, text, timestamptz, provider_type) OWNER TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_record_call_progress(text, text, call_status, timestamptz) OWNER TO vca_definer;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM vca_definer;
--> statement-breakpoint
REVOKE ALL ON FUNCTION vca_record_inbound_call(text, text, text, timestamptz, provider_type), vca_record_call_progress(text, text, call_status, timestamptz) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION vca_record_inbound_call(text, text, text, timestamptz, provider_type), vca_record_call_progress(text, text, call_status, timestamptz) TO vca_app;
