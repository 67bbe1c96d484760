-- Back to one Google id across all users (fails if two users hold the same one).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE events_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id BIGINT NOT NULL REFERENCES categories (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP NOT NULL,
    is_flexible BOOLEAN NOT NULL DEFAULT TRUE,
    is_completed BOOLEAN NOT NULL DEFAULT FALSE,
    -- Chosen by us at creation and never reused (or Google's, for an imported event): makes a
    -- retried insert detectable (409). Unique per user (below).
    google_event_id TEXT NOT NULL UNIQUE,
    -- Set once Google Calendar holds the event.
    google_calendar_id TEXT,
    sync_status TEXT NOT NULL DEFAULT 'not_connected',
    sync_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    all_day BOOLEAN NOT NULL DEFAULT FALSE,
    origin TEXT NOT NULL DEFAULT 'phantom' CHECK (origin IN ('phantom', 'google')),
    google_etag TEXT,
    CHECK (end_time > start_time)
);
INSERT INTO events_rebuilt (id, user_id, category_id, title, description, start_time, end_time, is_flexible, is_completed, google_event_id, google_calendar_id, sync_status, sync_error, created_at, updated_at, all_day, origin, google_etag)
    SELECT id, user_id, category_id, title, description, start_time, end_time, is_flexible, is_completed, google_event_id, google_calendar_id, sync_status, sync_error, created_at, updated_at, all_day, origin, google_etag FROM events;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
CREATE INDEX events_user_start ON events (user_id, start_time);
CREATE INDEX events_user_category ON events (user_id, category_id);
CREATE INDEX events_user_google ON events (user_id, google_calendar_id);

CREATE TRIGGER event_stats_insert AFTER INSERT ON events
BEGIN
    INSERT OR IGNORE INTO event_stats (user_id, shard) VALUES (NEW.user_id, 0);
    UPDATE event_stats SET event_count = event_count + 1,
        longest_secs = MAX(longest_secs,
            CAST((julianday(NEW.end_time) - julianday(NEW.start_time)) * 86400.0 AS INTEGER) + 2)
    WHERE user_id = NEW.user_id AND shard = 0;
END;

-- A user deleted with their events takes this row with them (cascade): nothing to update.
CREATE TRIGGER event_stats_delete AFTER DELETE ON events
BEGIN
    UPDATE event_stats SET event_count = event_count - 1
    WHERE user_id = OLD.user_id AND shard = 0;
END;

CREATE TRIGGER event_stats_update AFTER UPDATE OF start_time, end_time ON events
WHEN julianday(NEW.end_time) - julianday(NEW.start_time)
     > julianday(OLD.end_time) - julianday(OLD.start_time)
BEGIN
    INSERT OR IGNORE INTO event_stats (user_id, shard) VALUES (NEW.user_id, 0);
    UPDATE event_stats SET longest_secs = MAX(longest_secs,
            CAST((julianday(NEW.end_time) - julianday(NEW.start_time)) * 86400.0 AS INTEGER) + 2)
    WHERE user_id = NEW.user_id AND shard = 0;
END;
COMMIT;
PRAGMA foreign_keys = ON;
