-- Recurring series (see docs/design.md, "Recurring events").
--   recurrence   the series' normalised iCalendar lines, one per line; '' for a single event
--   timezone     the IANA zone the event's local times belong to; NULL for events made before
--                this column: they read as their owner's current zone
--   series_end   a series' last end; NULL while the series never ends (and for single events)
-- A series' row keeps its first occurrence in start_time/end_time, so event_stats (the single
-- events' list bounds) is unchanged by series.
ALTER TABLE events ADD COLUMN recurrence TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN timezone TEXT;
ALTER TABLE events ADD COLUMN series_end TIMESTAMP;

-- The span index: only series are in it, so range/ reads the series whose span meets the
-- window (start_time < window end, series_end > window start or NULL), never every series
-- and never the single events.
CREATE INDEX events_series_span ON events (user_id, series_end, start_time) WHERE recurrence <> '';

-- Changed and cancelled occurrences, by (series, original start). original_start is the
-- occurrence id's suffix: 20261208T090000Z (UTC) or 20261208 (an all-day series' local date).
-- A NULL field is the series' own value.
CREATE TABLE event_occurrences (
    series_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    original_start TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT,
    description TEXT,
    category_id BIGINT REFERENCES categories (id),
    start_time TIMESTAMP,
    end_time TIMESTAMP,
    is_flexible BOOLEAN,
    is_completed BOOLEAN,
    all_day BOOLEAN,
    cancelled BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMP NOT NULL,
    -- Google's etag of the instance as Phantom last wrote it: its writes are conditional on it.
    google_etag TEXT,
    PRIMARY KEY (series_id, original_start)
);

-- Outbox rows are per Google resource now: a series and each of its instances
-- (google_event_id = `<series google id>_<original start>`, original_start set) have rows of
-- their own, so that collapsing one never swallows another. SQLite cannot drop the old
-- UNIQUE (event_id) in place: the table is rebuilt.
CREATE TABLE sync_outbox_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL,
    google_event_id TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('upsert', 'delete')),
    version INTEGER NOT NULL DEFAULT 1,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    fields INTEGER NOT NULL DEFAULT 7,
    versions TEXT NOT NULL DEFAULT '',
    original_start TEXT,
    UNIQUE (event_id, google_event_id)
);
INSERT INTO sync_outbox_new (id, user_id, event_id, google_event_id, operation, version,
        attempts, available_at, last_error, created_at, updated_at, fields, versions)
    SELECT id, user_id, event_id, google_event_id, operation, version, attempts, available_at,
           last_error, created_at, updated_at, fields, versions
    FROM sync_outbox;
DROP TABLE sync_outbox;
ALTER TABLE sync_outbox_new RENAME TO sync_outbox;
CREATE INDEX sync_outbox_user_due ON sync_outbox (user_id, available_at, id);
