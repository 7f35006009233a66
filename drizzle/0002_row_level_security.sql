-- Row-level security: tenant isolation that holds even when a query forgets its tenant filter.
--
-- Roles (cluster-wide; created here when missing, never with a password):
--   vca_app      what the Worker logs in as. Owns nothing, no BYPASSRLS: sees only the rows of the
--                tenant named by the transaction's app.tenant_id (set by withTenant()).
--   vca_definer  NOLOGIN. Owns the few SECURITY DEFINER functions for the lookups that are
--                cross-tenant by nature (DID resolution on the inbound path, API key lookup,
--                the operator's tenant list), and only its policies let it see across tenants.
-- Migrations run as the table owner; FORCE makes the owner obey the policies too.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vca_app') THEN
    CREATE ROLE vca_app NOLOGIN NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vca_definer') THEN
    CREATE ROLE vca_definer NOLOGIN NOBYPASSRLS;
  END IF;
END
$$;
--> statement-breakpoint
-- To hand functions to vca_definer the migrating role must be able to act as it (Neon's owner
-- role has CREATEROLE but is not a superuser).
GRANT vca_definer TO CURRENT_USER;
--> statement-breakpoint
-- Nobody but the owner creates objects in public: otherwise the application role could plant a
-- function that a SECURITY DEFINER function would find on its search_path (PostgreSQL 15+ already
-- ships it so; older clusters and restored dumps may not).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO vca_app, vca_definer;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON tenants, phone_numbers, ai_profiles, api_keys TO vca_app;
--> statement-breakpoint
GRANT SELECT ON calls TO vca_app;
--> statement-breakpoint
GRANT SELECT, INSERT ON audit_events TO vca_app;
--> statement-breakpoint
GRANT SELECT ON tenants, phone_numbers, ai_profiles, api_keys TO vca_definer;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON calls TO vca_definer;
--> statement-breakpoint
GRANT UPDATE (last_used_at) ON api_keys TO vca_definer;
--> statement-breakpoint
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE phone_numbers ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE phone_numbers FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE ai_profiles ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE ai_profiles FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE calls ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE calls FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
-- Everyone (app, owner): only the rows of the tenant in app.tenant_id; none when it is unset.
CREATE POLICY tenant_isolation ON tenants
  USING (id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (id = nullif(current_setting('app.tenant_id', true), '')::uuid);
--> statement-breakpoint
CREATE POLICY tenant_isolation ON phone_numbers
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
--> statement-breakpoint
CREATE POLICY tenant_isolation ON ai_profiles
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
--> statement-breakpoint
CREATE POLICY tenant_isolation ON calls
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
--> statement-breakpoint
CREATE POLICY tenant_isolation ON api_keys
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
--> statement-breakpoint
CREATE POLICY tenant_isolation ON audit_events
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
--> statement-breakpoint
-- vca_definer only, and only as far as its functions need.
CREATE POLICY definer_read ON tenants FOR SELECT TO vca_definer USING (true);
--> statement-breakpoint
CREATE POLICY definer_read ON phone_numbers FOR SELECT TO vca_definer USING (true);
--> statement-breakpoint
CREATE POLICY definer_read ON ai_profiles FOR SELECT TO vca_definer USING (true);
--> statement-breakpoint
CREATE POLICY definer_read ON api_keys FOR SELECT TO vca_definer USING (true);
--> statement-breakpoint
CREATE POLICY definer_touch ON api_keys FOR UPDATE TO vca_definer USING (true) WITH CHECK (true);
--> statement-breakpoint
CREATE POLICY definer_record ON calls FOR ALL TO vca_definer USING (true) WITH CHECK (true);
--> statement-breakpoint
-- The inbound hot path in one statement: resolve the DID, check number and tenant are active, pick
-- the tenant's default AI profile and insert the call — or find the call this request already
-- created (idempotent on (tenant_id, external_call_id)). No row: the DID is unknown.
CREATE FUNCTION vca_record_inbound_call(p_did text, p_caller_number text, p_call_id text, p_started_at timestamptz)
RETURNS TABLE (
  tenant_id uuid, phone_number_id uuid, is_active boolean, tenant_status tenant_status,
  call_record_id uuid, ai_profile_id uuid, ai_profile_name text, ai_profile_role ai_profile_role
)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  WITH did AS (
    SELECT p.id AS phone_number_id, p.tenant_id, p.is_active, t.status AS tenant_status
    FROM phone_numbers p JOIN tenants t ON t.id = p.tenant_id
    WHERE p.did_number = p_did
  ),
  existing AS (
    SELECT c.id, c.ai_profile_id
    FROM calls c JOIN did ON c.tenant_id = did.tenant_id
    WHERE c.external_call_id = p_call_id
  ),
  inserted AS (
    INSERT INTO calls (tenant_id, phone_number_id, ai_profile_id, direction, status, caller_number, called_number, external_call_id, started_at)
    SELECT did.tenant_id, did.phone_number_id,
           (SELECT a.id FROM ai_profiles a WHERE a.tenant_id = did.tenant_id AND a.is_default),
           'inbound', 'initiated', p_caller_number, p_did, p_call_id, p_started_at
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
-- Ends the call of (tenant of the dialled number, external call id), whatever the number's or
-- tenant's state now. The first end wins. No row: no such call.
CREATE FUNCTION vca_record_call_ended(p_did text, p_call_id text, p_ended_at timestamptz, p_duration_seconds integer, p_hangup_cause integer, p_normal_causes integer[])
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
    SET status = CASE WHEN p_duration_seconds = 0 AND NOT (p_hangup_cause = ANY (p_normal_causes)) THEN 'failed'::call_status ELSE 'ended'::call_status END,
        ended_at = p_ended_at,
        duration_seconds = p_duration_seconds,
        hangup_cause = p_hangup_cause,
        answered_at = CASE WHEN p_duration_seconds > 0 THEN p_ended_at - make_interval(secs => p_duration_seconds) END,
        updated_at = now()
    FROM target
    WHERE c.id = target.id AND c.status NOT IN ('ended', 'failed')
    RETURNING c.id, c.status
  )
  SELECT target.id, coalesce(updated.status, target.status)
  FROM target LEFT JOIN updated ON updated.id = target.id
$$;
--> statement-breakpoint
-- The operator's list of all tenants, newest first, keyset-paginated.
CREATE FUNCTION vca_list_tenants(p_status tenant_status, p_after_created_at timestamptz, p_after_id uuid, p_limit integer)
RETURNS TABLE (id uuid, name text, status tenant_status, plan tenant_plan, created_at text, updated_at text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  SELECT t.id, t.name, t.status, t.plan, t.created_at::text, t.updated_at::text
  FROM tenants t
  WHERE (p_status IS NULL OR t.status = p_status)
    AND (p_after_created_at IS NULL OR (t.created_at, t.id) < (p_after_created_at, p_after_id))
  ORDER BY t.created_at DESC, t.id DESC
  LIMIT p_limit
$$;
--> statement-breakpoint
-- A presented tenant API key, found by its prefix (the secret is compared by the Worker).
CREATE FUNCTION vca_find_api_key(p_prefix text)
RETURNS TABLE (id uuid, tenant_id uuid, secret_hash text, expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz, tenant_status tenant_status)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  SELECT k.id, k.tenant_id, k.secret_hash, k.expires_at, k.revoked_at, k.last_used_at, t.status
  FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
  WHERE k.prefix = p_prefix
$$;
--> statement-breakpoint
-- Records a key's use at most once a minute.
CREATE FUNCTION vca_touch_api_key(p_key_id uuid)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  UPDATE api_keys SET last_used_at = now()
  WHERE id = p_key_id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
$$;
--> statement-breakpoint
-- A new owner needs CREATE on the schema unless a superuser does it (Neon's owner role is not):
-- granted for the hand-over only.
GRANT CREATE ON SCHEMA public TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_record_inbound_call(text, text, text, timestamptz) OWNER TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_record_call_ended(text, text, timestamptz, integer, integer, integer[]) OWNER TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_list_tenants(tenant_status, timestamptz, uuid, integer) OWNER TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_find_api_key(text) OWNER TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_touch_api_key(uuid) OWNER TO vca_definer;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM vca_definer;
--> statement-breakpoint
REVOKE ALL ON FUNCTION vca_record_inbound_call(text, text, text, timestamptz), vca_record_call_ended(text, text, timestamptz, integer, integer, integer[]),
  vca_list_tenants(tenant_status, timestamptz, uuid, integer), vca_find_api_key(text), vca_touch_api_key(uuid) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION vca_record_inbound_call(text, text, text, timestamptz), vca_record_call_ended(text, text, timestamptz, integer, integer, integer[]),
  vca_list_tenants(tenant_status, timestamptz, uuid, integer), vca_find_api_key(text), vca_touch_api_key(uuid) TO vca_app;
