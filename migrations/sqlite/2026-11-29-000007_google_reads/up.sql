-- Two-way sync, the read side. A read of the user's calendar is a job of the user's lane:
--   google_read_due_at   when the next read is due (NULL: none); set on connecting, by the
--                        poll after each read, and by push notifications
--   google_sync_token    where the next incremental read starts (NULL: a full read)
--   google_last_read_at  when a read last completed
ALTER TABLE users ADD COLUMN google_read_due_at TIMESTAMP;
ALTER TABLE users ADD COLUMN google_sync_token TEXT;
ALTER TABLE users ADD COLUMN google_last_read_at TIMESTAMP;
-- Connected users read their calendar once after the upgrade.
UPDATE users SET google_read_due_at = CURRENT_TIMESTAMP,
                 sync_due_at = CURRENT_TIMESTAMP
    WHERE google_calendar_token IS NOT NULL AND NOT google_needs_reconnect AND sync_worker IS NULL;

-- The Google ids of events deleted in Phantom (or deleted in Google and so here): such an id
-- is never imported again, and found live in Google it is deleted there.
CREATE TABLE google_tombstones (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    google_event_id TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    deleted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, google_event_id)
);

-- A read finds the Phantom event of a Google id by this.
CREATE INDEX events_user_google ON events (user_id, google_calendar_id);
