-- Google answered `quotaExceeded` for the user's account: none of the user's queued changes
-- are worked before this time (the whole queue rests, not only the row that hit the limit).
ALTER TABLE users ADD COLUMN google_sync_paused_until TIMESTAMP;
-- The claim skips users with a row leased to a worker ("busy"), so that one worker at a time
-- delivers a user's changes, in order and under one pacing budget.
CREATE INDEX sync_outbox_user_lease ON sync_outbox (user_id, leased_until);
