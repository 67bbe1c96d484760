-- Preference: the category events created in Google Calendar are imported into (NULL: the
-- user's own "Google Calendar" category, created on first use). A deleted category clears it.
ALTER TABLE users ADD COLUMN google_import_category BIGINT REFERENCES categories (id) ON DELETE SET NULL;
