DROP INDEX sync_outbox_user_lease;
ALTER TABLE users DROP COLUMN google_sync_paused_until;
