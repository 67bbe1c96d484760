ALTER TABLE sync_outbox DROP COLUMN fields;
