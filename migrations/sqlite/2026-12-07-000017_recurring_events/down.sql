DELETE FROM sync_outbox WHERE original_start IS NOT NULL;
CREATE TABLE sync_outbox_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL UNIQUE,
    google_event_id TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('upsert', 'delete')),
    version INTEGER NOT NULL DEFAULT 1,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    fields INTEGER NOT NULL DEFAULT 7,
    versions TEXT NOT NULL DEFAULT ''
);
INSERT INTO sync_outbox_old (id, user_id, event_id, google_event_id, operation, version,
        attempts, available_at, last_error, created_at, updated_at, fields, versions)
    SELECT id, user_id, event_id, google_event_id, operation, version, attempts, available_at,
           last_error, created_at, updated_at, fields, versions
    FROM sync_outbox;
DROP TABLE sync_outbox;
ALTER TABLE sync_outbox_old RENAME TO sync_outbox;
CREATE INDEX sync_outbox_user_due ON sync_outbox (user_id, available_at, id);
DROP TABLE event_occurrences;
DROP INDEX events_series_span;
ALTER TABLE events DROP COLUMN series_end;
ALTER TABLE events DROP COLUMN timezone;
ALTER TABLE events DROP COLUMN recurrence;
