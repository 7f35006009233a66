-- One home for the call-end rules ("failed when the talk time is 0 and the cause is not normal
-- clearing", answered_at = ended_at - talk time, the first end wins): vca_record_calls_ended
-- (0003). /call-ended now sends its one event through it, so the single-event function of 0002,
-- which repeated those rules, goes. Deploy the Worker that no longer calls it before migrating.
DROP FUNCTION vca_record_call_ended(text, text, timestamptz, integer, integer, integer[]);
