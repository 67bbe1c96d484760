-- Two-way sync, the event side: whole-day events (start and end are midnights in the owner's
-- time zone; written to Google as `date`), and where an event was created ('phantom' through
-- the API, 'google' when imported from Google Calendar).
ALTER TABLE events ADD COLUMN all_day BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE events ADD COLUMN origin TEXT NOT NULL DEFAULT 'phantom' CHECK (origin IN ('phantom', 'google'));
