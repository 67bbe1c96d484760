ALTER TABLE events DROP COLUMN google_etag;
