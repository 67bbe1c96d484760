ALTER TABLE sync_workers DROP COLUMN users_held;
ALTER TABLE sync_workers DROP COLUMN share_per_minute;
