DELETE FROM sync_outbox WHERE original_start IS NOT NULL;
ALTER TABLE sync_outbox DROP CONSTRAINT sync_outbox_event_id_google_event_id_key;
ALTER TABLE sync_outbox ADD CONSTRAINT sync_outbox_event_id_key UNIQUE (event_id);
ALTER TABLE sync_outbox DROP COLUMN original_start;
DROP TABLE event_occurrences;
DROP INDEX events_series_span;
ALTER TABLE events DROP COLUMN series_end;
ALTER TABLE events DROP COLUMN timezone;
ALTER TABLE events DROP COLUMN recurrence;
