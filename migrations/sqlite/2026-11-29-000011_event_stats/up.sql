-- What a list page needs to know of a user's whole history without reading it:
--   event_count    how many events the user has (the unfiltered list's `count`)
--   longest_secs   an upper bound of the longest event the user ever stored, in whole
--                  seconds (never lowered): an event intersecting a window that starts at S
--                  started after S - longest_secs, so a date-range list reads only
--                  `start_time >= S - longest_secs` (see docs/design.md, "List pages").
-- Kept by triggers, in the transaction of every write of `events`, whatever wrote it.
-- PostgreSQL spreads a user's figures over shards (one per backend, mod 16) so that a user's
-- concurrent writes do not queue on one row; SQLite has one writer and uses shard 0 only.
CREATE TABLE event_stats (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shard INTEGER NOT NULL,
    event_count BIGINT NOT NULL DEFAULT 0,
    longest_secs BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, shard)
);

-- Whole seconds, rounded up, plus one: julianday() keeps milliseconds, and an upper bound
-- only widens the range read.
INSERT INTO event_stats (user_id, shard, event_count, longest_secs)
    SELECT user_id, 0, COUNT(*),
           MAX(CAST((julianday(end_time) - julianday(start_time)) * 86400.0 AS INTEGER)) + 2
    FROM events GROUP BY user_id;

CREATE TRIGGER event_stats_insert AFTER INSERT ON events
BEGIN
    INSERT OR IGNORE INTO event_stats (user_id, shard) VALUES (NEW.user_id, 0);
    UPDATE event_stats SET event_count = event_count + 1,
        longest_secs = MAX(longest_secs,
            CAST((julianday(NEW.end_time) - julianday(NEW.start_time)) * 86400.0 AS INTEGER) + 2)
    WHERE user_id = NEW.user_id AND shard = 0;
END;

-- A user deleted with their events takes this row with them (cascade): nothing to update.
CREATE TRIGGER event_stats_delete AFTER DELETE ON events
BEGIN
    UPDATE event_stats SET event_count = event_count - 1
    WHERE user_id = OLD.user_id AND shard = 0;
END;

CREATE TRIGGER event_stats_update AFTER UPDATE OF start_time, end_time ON events
WHEN julianday(NEW.end_time) - julianday(NEW.start_time)
     > julianday(OLD.end_time) - julianday(OLD.start_time)
BEGIN
    INSERT OR IGNORE INTO event_stats (user_id, shard) VALUES (NEW.user_id, 0);
    UPDATE event_stats SET longest_secs = MAX(longest_secs,
            CAST((julianday(NEW.end_time) - julianday(NEW.start_time)) * 86400.0 AS INTEGER) + 2)
    WHERE user_id = NEW.user_id AND shard = 0;
END;
