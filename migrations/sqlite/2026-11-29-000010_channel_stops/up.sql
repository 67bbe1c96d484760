-- Disconnecting queues the token's revocation; the user's watch channels are handed to it, so
-- that they are stopped (with that token, before it is revoked) even when Google cannot be
-- reached at the moment of disconnecting. A handed-over channel counts no more for
-- notifications; it is forgotten once stopped.
ALTER TABLE google_channels ADD COLUMN revocation_id BIGINT
    REFERENCES google_revocations (id) ON DELETE CASCADE;
CREATE INDEX google_channels_revocation ON google_channels (revocation_id);
