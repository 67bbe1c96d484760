-- Google Calendar connection. users.google_calendar_token (from the first migration) holds the
-- AES-256-GCM sealed token JSON; these columns say when it was made and whether Google has
-- since refused it (the user must reconnect).
ALTER TABLE users ADD COLUMN google_connected_at TIMESTAMP;
ALTER TABLE users ADD COLUMN google_needs_reconnect BOOLEAN NOT NULL DEFAULT FALSE;
-- Held while one process refreshes the user's access token: one refresh per user at a time,
-- across every server and worker sharing the database.
ALTER TABLE users ADD COLUMN google_refresh_lease_until TIMESTAMP;

-- Authorizations between `connect` and `callback`, keyed by the signed state's nonce and
-- deleted when the callback consumes them (single use). The PKCE verifier is sealed too.
CREATE TABLE oauth_states (
    nonce TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pkce_verifier TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- Tokens to revoke at Google after a disconnect: queued in the transaction that forgets the
-- token, deleted once Google confirms (or says the token is already invalid), retried with
-- a growing delay while Google is unreachable. The token is sealed like the stored one.
CREATE TABLE google_revocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL,
    token TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX google_revocations_due ON google_revocations (available_at);
