DROP INDEX google_channels_revocation;
ALTER TABLE google_channels DROP COLUMN revocation_id;
