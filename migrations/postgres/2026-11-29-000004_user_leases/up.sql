-- Leases move from outbox rows to users: a worker leases a user's whole queue, so a claim
-- reads one row per claimable user through an index and never walks a long queue.
--   sync_due_at       when a claim may next take the user: its earliest due row, the end of
--                     its lease while leased, the end of a quota pause while paused (NULL:
--                     nothing queued, or the user must reconnect); kept by enqueue, claim,
--                     heartbeat and release
--   sync_worker       the worker that leased the user last (left behind by a dead one)
--   sync_lease_until  the lease's end; the worker's heartbeat renews it while it lives
ALTER TABLE users ADD COLUMN sync_due_at TIMESTAMP;
ALTER TABLE users ADD COLUMN sync_worker TEXT;
ALTER TABLE users ADD COLUMN sync_lease_until TIMESTAMP;
UPDATE users SET sync_due_at = (SELECT MIN(o.available_at) FROM sync_outbox o WHERE o.user_id = users.id)
    WHERE google_calendar_token IS NOT NULL AND NOT google_needs_reconnect;
CREATE INDEX users_sync_due ON users (sync_due_at) WHERE sync_due_at IS NOT NULL;
CREATE INDEX users_sync_worker ON users (sync_worker) WHERE sync_worker IS NOT NULL;

DROP INDEX sync_outbox_user_lease;
DROP INDEX sync_outbox_user;
DROP INDEX sync_outbox_due;
ALTER TABLE sync_outbox DROP COLUMN leased_until;
-- A lane reads its user's due rows in queue order straight from this index.
CREATE INDEX sync_outbox_user_due ON sync_outbox (user_id, available_at, id);
