DROP INDEX events_user_google;
DROP TABLE google_tombstones;
ALTER TABLE users DROP COLUMN google_last_read_at;
ALTER TABLE users DROP COLUMN google_sync_token;
ALTER TABLE users DROP COLUMN google_read_due_at;
