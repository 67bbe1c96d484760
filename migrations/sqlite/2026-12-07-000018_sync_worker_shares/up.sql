-- Each live worker's share of the project's rate of Google calls (calls a minute), reserved
-- at its last heartbeat, and the users it held then (its claim to a larger share). The shares
-- of the workers on record never add up to more than PHANTOM_SYNC_PROJECT_RATE.
ALTER TABLE sync_workers ADD COLUMN share_per_minute INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_workers ADD COLUMN users_held INTEGER NOT NULL DEFAULT 0;
