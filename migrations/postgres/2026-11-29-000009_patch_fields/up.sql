-- Which fields a queued upsert carries to an event made in Google (events.patch of only what
-- changed through the API): a bit each for the title (1), the description (2) and the times
-- (4). Phantom's own events are always written whole.
ALTER TABLE sync_outbox ADD COLUMN fields INTEGER NOT NULL DEFAULT 7;
