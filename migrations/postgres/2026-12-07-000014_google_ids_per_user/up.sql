-- A Google event id is unique per calendar, not per project: two Phantom users invited to the
-- same Google event hold the same id in their two calendars. Unique per user, then.
ALTER TABLE events DROP CONSTRAINT events_google_event_id_key;
CREATE UNIQUE INDEX events_user_google_event ON events (user_id, google_event_id);
