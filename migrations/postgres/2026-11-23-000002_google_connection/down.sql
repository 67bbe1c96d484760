DROP TABLE google_revocations;
DROP TABLE oauth_states;
ALTER TABLE users DROP COLUMN google_refresh_lease_until;
ALTER TABLE users DROP COLUMN google_needs_reconnect;
ALTER TABLE users DROP COLUMN google_connected_at;
