-- A partner may stop its user's session while our pile is still starting it (the remote start
-- was accepted, the pile has not reported its transaction yet). The stop is remembered here and
-- carried out as soon as the pile's StartTransaction arrives, so such a session cannot run on
-- unstopped.
ALTER TABLE pile_sessions ADD COLUMN stop_requested_at BIGINT;
