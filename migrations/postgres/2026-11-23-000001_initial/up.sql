-- Phantom Scheduler, initial schema (PostgreSQL). Keep in step with ../../sqlite/.
-- Timestamps are UTC, TIMESTAMP without time zone (microseconds).

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    default_event_duration INTEGER NOT NULL DEFAULT 60,
    -- AES-256-GCM encrypted token JSON; NULL while Google Calendar is not connected.
    google_calendar_token TEXT,
    created_at TIMESTAMP NOT NULL
);

-- user_id NULL: a seeded default every user sees.
-- name_key: the lowercased name, so "exam" cannot sit beside "Exam".
CREATE TABLE categories (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    priority_level INTEGER NOT NULL,
    color TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX categories_owner_name ON categories (user_id, name_key);

-- Colours follow the Google Calendar palette of each priority's colorId.
INSERT INTO categories (user_id, name, name_key, priority_level, color, description) VALUES
    (NULL, 'Exam', 'exam', 5, '#D50000', 'Exams and tests'),
    (NULL, 'Study', 'study', 4, '#3F51B5', 'Study sessions'),
    (NULL, 'Gym', 'gym', 3, '#0B8043', 'Workouts'),
    (NULL, 'Social', 'social', 2, '#F6BF26', 'Time with friends and family'),
    (NULL, 'Gaming', 'gaming', 1, '#616161', 'Games');

CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id BIGINT NOT NULL REFERENCES categories (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP NOT NULL,
    is_flexible BOOLEAN NOT NULL DEFAULT TRUE,
    is_completed BOOLEAN NOT NULL DEFAULT FALSE,
    -- Chosen by us at creation and never reused: makes a retried insert detectable (409).
    google_event_id TEXT NOT NULL UNIQUE,
    -- Set once Google Calendar holds the event.
    google_calendar_id TEXT,
    sync_status TEXT NOT NULL DEFAULT 'not_connected',
    sync_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (end_time > start_time)
);
CREATE INDEX events_user_start ON events (user_id, start_time);
CREATE INDEX events_user_category ON events (user_id, category_id);

CREATE TABLE blacklisted_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL,
    blacklisted_at TIMESTAMP NOT NULL
);
CREATE INDEX blacklisted_tokens_expires ON blacklisted_tokens (expires_at);

-- Transactional outbox: one row per event with a change Google Calendar has not seen yet.
-- Written in the same transaction as the event; a later change to the same event bumps
-- `version` instead of adding a row, so edits collapse and a worker holding an older version
-- cannot delete a newer change. No foreign key to events: a delete outlives its event.
CREATE TABLE sync_outbox (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL UNIQUE,
    google_event_id TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('upsert', 'delete')),
    version INTEGER NOT NULL DEFAULT 1,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at TIMESTAMP NOT NULL,
    leased_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX sync_outbox_due ON sync_outbox (available_at);
CREATE INDEX sync_outbox_user ON sync_outbox (user_id);
