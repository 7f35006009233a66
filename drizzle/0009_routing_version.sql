CREATE SEQUENCE "public"."routing_version_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "route_versions" (
	"phone_number_id" uuid PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL,
	CONSTRAINT "route_versions_version_key" UNIQUE("version")
);
--> statement-breakpoint
-- The routing version (DESIGN.md, "Routing at the PBX"). The bridge beside Asterisk keeps a copy of
-- every generic number's route and asks for the routes changed after the version it has. So that
-- no code path can forget it, the database stamps the version itself, from triggers on every
-- change that affects a route: a number attached, activated, deactivated, moved or deleted; a
-- tenant's status; a tenant's default AI profile switched, renamed or re-roled.
--
-- Versions must grow in commit order, or a reader could see version 101 committed while 100 is
-- still in flight, move past it, and never see 100. So the triggers are deferred to commit time
-- and take one advisory lock before drawing versions: transactions that change routes draw their
-- versions one at a time, each holding the lock until it has committed. A snapshot that shows a
-- version therefore shows every version below it. Taken at commit, after every other lock of the
-- transaction, and followed only by writes to route_versions (which only the lock holder
-- touches), the lock cannot be part of a deadlock; it costs a route change the wait for another
-- route change's commit, never the inbound call path, which changes no route.
-- route_versions has one row per number that ever existed (no foreign key): a deleted number keeps
-- its row, which is how the bridge learns that its route is gone.
GRANT SELECT, INSERT, UPDATE ON route_versions TO vca_definer;
--> statement-breakpoint
GRANT USAGE ON SEQUENCE routing_version_seq TO vca_definer;
--> statement-breakpoint
ALTER TABLE route_versions ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE route_versions FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
-- The application role has no privilege on it at all; only the definer's functions read and write it.
CREATE POLICY definer_all ON route_versions FOR ALL TO vca_definer USING (true) WITH CHECK (true);
--> statement-breakpoint
CREATE FUNCTION vca_stamp_routes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  changed_tenants uuid[];
BEGIN
  -- One transaction at a time from here to its commit (see above). 7233 is this lock's arbitrary key.
  PERFORM pg_advisory_xact_lock(7233);
  IF TG_TABLE_NAME = 'phone_numbers' THEN
    INSERT INTO route_versions (phone_number_id, version)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, nextval('routing_version_seq'))
    ON CONFLICT (phone_number_id) DO UPDATE SET version = excluded.version;
    RETURN NULL;
  END IF;
  -- A tenant's status or default profile: every number of the tenant (both, should a profile move).
  IF TG_TABLE_NAME = 'tenants' THEN
    changed_tenants := ARRAY[NEW.id];
  ELSIF TG_OP = 'INSERT' THEN
    changed_tenants := ARRAY[NEW.tenant_id];
  ELSIF TG_OP = 'DELETE' THEN
    changed_tenants := ARRAY[OLD.tenant_id];
  ELSE
    changed_tenants := ARRAY[OLD.tenant_id, NEW.tenant_id];
  END IF;
  INSERT INTO route_versions (phone_number_id, version)
  SELECT p.id, nextval('routing_version_seq')
  FROM (SELECT id FROM phone_numbers WHERE tenant_id = ANY (changed_tenants) ORDER BY id) p
  ON CONFLICT (phone_number_id) DO UPDATE SET version = excluded.version;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER route_attached AFTER INSERT ON phone_numbers
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION vca_stamp_routes();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER route_changed AFTER UPDATE ON phone_numbers
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((OLD.did_number, OLD.tenant_id, OLD.is_active, OLD.provider_type) IS DISTINCT FROM (NEW.did_number, NEW.tenant_id, NEW.is_active, NEW.provider_type))
  EXECUTE FUNCTION vca_stamp_routes();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER route_removed AFTER DELETE ON phone_numbers
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION vca_stamp_routes();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER routes_tenant_status AFTER UPDATE ON tenants
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION vca_stamp_routes();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER routes_default_profile_added AFTER INSERT ON ai_profiles
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.is_default)
  EXECUTE FUNCTION vca_stamp_routes();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER routes_default_profile_changed AFTER UPDATE ON ai_profiles
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((OLD.is_default OR NEW.is_default) AND (OLD.is_default, OLD.name, OLD.role, OLD.tenant_id) IS DISTINCT FROM (NEW.is_default, NEW.name, NEW.role, NEW.tenant_id))
  EXECUTE FUNCTION vca_stamp_routes();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER routes_default_profile_removed AFTER DELETE ON ai_profiles
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.is_default)
  EXECUTE FUNCTION vca_stamp_routes();
--> statement-breakpoint
-- The numbers that exist now get their first version. As vca_definer: the owner obeys the forced
-- row-level security of phone_numbers and would see none of them (Neon's owner is no superuser).
SET ROLE vca_definer;
--> statement-breakpoint
INSERT INTO route_versions (phone_number_id, version)
SELECT p.id, nextval('routing_version_seq') FROM (SELECT id FROM phone_numbers ORDER BY created_at, id) p;
--> statement-breakpoint
RESET ROLE;
--> statement-breakpoint
-- The routes changed after p_after, oldest change first, with what routing needs and nothing more
-- (no prompt, no secret); only `generic` numbers, the ones that reach Asterisk. A number deleted,
-- or no longer generic, comes back with its version and nulls (removed). `head` is the highest
-- version there is, on every row, and alone on one row when nothing changed: a head below the
-- caller's version means the database went back in time (a restore), and the caller starts over.
CREATE FUNCTION vca_list_routes(p_after bigint, p_limit integer)
RETURNS TABLE (
  head bigint, version bigint, phone_number_id uuid, did_number text, tenant_id uuid, number_active boolean,
  tenant_active boolean, ai_profile_id uuid, ai_profile_name text, ai_profile_role ai_profile_role
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  WITH head AS (SELECT coalesce(max(v.version), 0)::bigint AS head FROM route_versions v),
  page AS (
    SELECT v.version, v.phone_number_id FROM route_versions v
    WHERE v.version > p_after
    ORDER BY v.version
    LIMIT p_limit
  )
  SELECT head.head, page.version, page.phone_number_id, p.did_number, p.tenant_id, p.is_active,
         t.status = 'active', a.id, a.name, a.role
  FROM head
  LEFT JOIN page ON true
  LEFT JOIN phone_numbers p ON p.id = page.phone_number_id AND p.provider_type = 'generic'
  LEFT JOIN tenants t ON t.id = p.tenant_id
  LEFT JOIN ai_profiles a ON a.tenant_id = p.tenant_id AND a.is_default
  ORDER BY page.version
$$;
--> statement-breakpoint
-- Inbound calls the bridge routed from its copy of the routes, in one statement for a batch. Each
-- is recorded with the id the bridge created and gave Asterisk, under the number and tenant the
-- bridge routed it to, which must still own the dialled DID (route_mismatch otherwise; no such
-- DID: unknown_did). It is recorded whatever the number's or tenant's state now: the call was
-- answered, and its end will follow. Idempotent on (tenant, external call id): a call recorded
-- before (a replay, or the same call twice in the batch) answers the id it was recorded with.
-- No id and no error (outcome 'conflict'): a concurrent request is recording the same call; asking
-- again finds it.
CREATE FUNCTION vca_record_routed_calls(
  p_call_record_ids uuid[], p_tenant_ids uuid[], p_phone_number_ids uuid[], p_dids text[], p_caller_numbers text[],
  p_call_ids text[], p_started_at double precision[], p_ai_profile_ids uuid[]
)
RETURNS TABLE (ord integer, call_record_id uuid, replayed boolean, outcome text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  WITH event AS (
    SELECT e.ord::integer AS ord, e.id, e.tenant_id, e.phone_number_id, e.did, e.caller_number, e.call_id,
           to_timestamp(e.started_at) AS started_at, e.ai_profile_id
    FROM unnest(p_call_record_ids, p_tenant_ids, p_phone_number_ids, p_dids, p_caller_numbers, p_call_ids, p_started_at, p_ai_profile_ids)
      WITH ORDINALITY AS e(id, tenant_id, phone_number_id, did, caller_number, call_id, started_at, ai_profile_id, ord)
  ),
  routed AS (
    SELECT event.* FROM event
    JOIN phone_numbers p ON p.did_number = event.did AND p.id = event.phone_number_id AND p.tenant_id = event.tenant_id
  ),
  existing AS (
    SELECT routed.ord, c.id FROM routed
    JOIN calls c ON c.tenant_id = routed.tenant_id AND c.external_call_id = routed.call_id
  ),
  inserted AS (
    INSERT INTO calls (id, tenant_id, phone_number_id, ai_profile_id, direction, status, caller_number, called_number, external_call_id, started_at)
    SELECT r.id, r.tenant_id, r.phone_number_id,
           (SELECT a.id FROM ai_profiles a WHERE a.tenant_id = r.tenant_id AND a.id = r.ai_profile_id),
           'inbound', 'initiated', r.caller_number, r.did, r.call_id, r.started_at
    FROM routed r
    WHERE NOT EXISTS (SELECT 1 FROM existing x WHERE x.ord = r.ord)
    ORDER BY r.ord
    ON CONFLICT DO NOTHING
    RETURNING id, tenant_id, external_call_id
  )
  SELECT event.ord, coalesce(x.id, i.id), x.id IS NOT NULL OR (i.id IS NOT NULL AND i.id <> event.id),
         CASE
           WHEN r.ord IS NULL THEN
             CASE WHEN EXISTS (SELECT 1 FROM phone_numbers p WHERE p.did_number = event.did) THEN 'route_mismatch' ELSE 'unknown_did' END
           WHEN coalesce(x.id, i.id) IS NULL THEN 'conflict'
           ELSE 'recorded'
         END
  FROM event
  LEFT JOIN routed r ON r.ord = event.ord
  LEFT JOIN existing x ON x.ord = event.ord
  LEFT JOIN inserted i ON i.tenant_id = event.tenant_id AND i.external_call_id = event.call_id
  ORDER BY event.ord
$$;
--> statement-breakpoint
-- As in 0002: the new owner needs CREATE on the schema for the hand-over when a non-superuser
-- (Neon's owner role) runs this.
GRANT CREATE ON SCHEMA public TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_stamp_routes() OWNER TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_list_routes(bigint, integer) OWNER TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_record_routed_calls(uuid[], uuid[], uuid[], text[], text[], text[], double precision[], uuid[]) OWNER TO vca_definer;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM vca_definer;
--> statement-breakpoint
REVOKE ALL ON FUNCTION vca_stamp_routes(), vca_list_routes(bigint, integer),
  vca_record_routed_calls(uuid[], uuid[], uuid[], text[], text[], text[], double precision[], uuid[]) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION vca_list_routes(bigint, integer),
  vca_record_routed_calls(uuid[], uuid[], uuid[], text[], text[], text[], double precision[], uuid[]) TO vca_app;
