ALTER TABLE users DROP COLUMN google_import_category;
