ALTER TABLE google_tombstones DROP COLUMN google_etag;
ALTER TABLE sync_outbox DROP COLUMN versions;
