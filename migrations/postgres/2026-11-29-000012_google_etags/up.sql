-- Google's etag of each event as Phantom last wrote or read it: a read that finds the same
-- etag is the echo of Phantom's own write (or a change already taken), and changes nothing.
ALTER TABLE events ADD COLUMN google_etag TEXT;
