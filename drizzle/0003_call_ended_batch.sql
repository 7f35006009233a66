-- Call-ended events in batches: what the bridge sends when it drains its spool after an outage.
-- One statement ends up to a batch's worth of calls, with exactly the rules of
-- vca_record_call_ended for each event: the call is (tenant of the dialled number, call id),
-- found whatever the number's or tenant's state now; the first end wins (also between two events
-- for the same call in one batch: the earlier one); a repeat changes nothing and answers the same.
-- One row per event found, with its 1-based position in the arrays; no row: no such call.
CREATE FUNCTION vca_record_calls_ended(p_dids text[], p_call_ids text[], p_ended_at bigint[], p_duration_seconds integer[], p_hangup_causes integer[], p_normal_causes integer[])
RETURNS TABLE (ord integer, id uuid, status call_status)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
  WITH event AS (
    SELECT e.ord::integer AS ord, e.did, e.call_id, to_timestamp(e.ended_at) AS ended_at, e.duration_seconds, e.hangup_cause
    FROM unnest(p_dids, p_call_ids, p_ended_at, p_duration_seconds, p_hangup_causes)
      WITH ORDINALITY AS e(did, call_id, ended_at, duration_seconds, hangup_cause, ord)
  ),
  matched AS (
    SELECT event.ord, c.id
    FROM event
    JOIN phone_numbers p ON p.did_number = event.did
    JOIN calls c ON c.tenant_id = p.tenant_id AND c.external_call_id = event.call_id
  ),
  target AS (
    -- Locked in id order (two batches never deadlock), so a concurrent end is waited for and its
    -- result read, not the state before it.
    SELECT c.id, c.status FROM calls c
    WHERE c.id IN (SELECT matched.id FROM matched)
    ORDER BY c.id
    FOR UPDATE OF c
  ),
  winner AS (
    SELECT DISTINCT ON (matched.id) matched.id, event.*
    FROM matched JOIN event ON event.ord = matched.ord
    ORDER BY matched.id, matched.ord
  ),
  updated AS (
    UPDATE calls c
    SET status = CASE WHEN w.duration_seconds = 0 AND NOT (w.hangup_cause = ANY (p_normal_causes)) THEN 'failed'::call_status ELSE 'ended'::call_status END,
        ended_at = w.ended_at,
        duration_seconds = w.duration_seconds,
        hangup_cause = w.hangup_cause,
        answered_at = CASE WHEN w.duration_seconds > 0 THEN w.ended_at - make_interval(secs => w.duration_seconds) END,
        updated_at = now()
    FROM target t JOIN winner w ON w.id = t.id
    WHERE c.id = t.id AND t.status NOT IN ('ended', 'failed')
    RETURNING c.id, c.status
  )
  SELECT matched.ord, matched.id, coalesce(updated.status, target.status)
  FROM matched
  JOIN target ON target.id = matched.id
  LEFT JOIN updated ON updated.id = matched.id
  ORDER BY matched.ord
$$;
--> statement-breakpoint
-- As in 0002: the new owner needs CREATE on the schema for the hand-over when a non-superuser
-- (Neon's owner role) runs this.
GRANT CREATE ON SCHEMA public TO vca_definer;
--> statement-breakpoint
ALTER FUNCTION vca_record_calls_ended(text[], text[], bigint[], integer[], integer[], integer[]) OWNER TO vca_definer;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM vca_definer;
--> statement-breakpoint
REVOKE ALL ON FUNCTION vca_record_calls_ended(text[], text[], bigint[], integer[], integer[], integer[]) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION vca_record_calls_ended(text[], text[], bigint[], integer[], integer[], integer[]) TO vca_app;
