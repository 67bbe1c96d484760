-- Push notifications: the watch channels open on users' calendars. Only a SHA-256 of each
-- channel's secret token is kept; a notification must bring the token itself.
CREATE TABLE google_channels (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX google_channels_user ON google_channels (user_id, expires_at);
