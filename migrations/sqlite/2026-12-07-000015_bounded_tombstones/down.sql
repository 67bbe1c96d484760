DROP INDEX google_tombstones_deleted;
DROP INDEX google_tombstones_confirmed;
ALTER TABLE google_tombstones DROP COLUMN confirmed_at;
