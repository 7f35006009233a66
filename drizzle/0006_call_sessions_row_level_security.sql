-- Call sessions (0005) under the rules of 0002: the transcripts table obeys the same
-- tenant_isolation policy as every tenant-scoped table, and the application role gets exactly the
-- writes a CallSession needs, each still under that policy (withTenant() sets app.tenant_id).
--
-- vca_app may still not insert calls nor change what the ingest records (number, caller, times,
-- talk time, hangup cause): only the session's own columns, the status a session moves from
-- initiated/ringing to answered, answered_at, and updated_at. Column grants need no superuser, so
-- Neon's non-superuser owner can run this as it ran 0002.
GRANT UPDATE (status, answered_at, session_started_at, session_ended_at, session_end_reason, updated_at) ON calls TO vca_app;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON call_transcripts TO vca_app;
--> statement-breakpoint
ALTER TABLE call_transcripts ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE call_transcripts FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
-- Everyone (app, owner): only the rows of the tenant in app.tenant_id; none when it is unset.
CREATE POLICY tenant_isolation ON call_transcripts
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
