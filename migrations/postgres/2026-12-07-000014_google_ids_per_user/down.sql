DROP INDEX events_user_google_event;
ALTER TABLE events ADD CONSTRAINT events_google_event_id_key UNIQUE (google_event_id);
