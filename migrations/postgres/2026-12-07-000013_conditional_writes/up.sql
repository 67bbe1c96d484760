-- Google's etag of a deleted event as Phantom last saw it: the delete sent to Google is
-- conditional on it (If-Match), like every update and patch.
ALTER TABLE google_tombstones ADD COLUMN google_etag TEXT;

-- Fingerprints of the versions of the event queued for Google since Google last confirmed one
-- ("hex," each, the newest last): Google found holding one of them holds Phantom's own write
-- whose answer was lost, not a person's later edit.
ALTER TABLE sync_outbox ADD COLUMN versions TEXT NOT NULL DEFAULT '';
