-- Tombstones are kept only while they can matter (docs/design.md, "Tombstones"): when Google
-- confirmed the deletion (Phantom's delete reached it, or the event was deleted there), a
-- tombstone is pruned 60 days later; one whose deletion Google never confirmed (deleted while
-- disconnected) a year after the deletion.
ALTER TABLE google_tombstones ADD COLUMN confirmed_at TIMESTAMP;
UPDATE google_tombstones SET confirmed_at = deleted_at
WHERE NOT EXISTS (
    SELECT 1 FROM sync_outbox o
    WHERE o.user_id = google_tombstones.user_id
      AND o.google_event_id = google_tombstones.google_event_id
      AND o.operation = 'delete'
);
CREATE INDEX google_tombstones_confirmed ON google_tombstones (confirmed_at);
CREATE INDEX google_tombstones_deleted ON google_tombstones (deleted_at);
