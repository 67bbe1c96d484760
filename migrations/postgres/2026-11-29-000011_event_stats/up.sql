-- What a list page needs to know of a user's whole history without reading it:
--   event_count    how many events the user has (the unfiltered list's `count`)
--   longest_secs   an upper bound of the longest event the user ever stored, in whole
--                  seconds (never lowered): an event intersecting a window that starts at S
--                  started after S - longest_secs, so a date-range list reads only
--                  `start_time >= S - longest_secs` (see docs/design.md, "List pages").
-- Kept by triggers, in the transaction of every write of `events`, whatever wrote it.
-- A user's figures are spread over shards, one per backend (pid mod 16), so that a user's
-- concurrent writes on different connections do not queue on one row until they commit;
-- the figures are the sum and the max over the user's shards. SQLite uses shard 0 only.
CREATE TABLE event_stats (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shard INTEGER NOT NULL,
    event_count BIGINT NOT NULL DEFAULT 0,
    longest_secs BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, shard)
);

-- Whole seconds, rounded up, plus one (as SQLite's: an upper bound only widens the range).
CREATE FUNCTION event_stats_secs(start_time TIMESTAMP, end_time TIMESTAMP) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CEIL(EXTRACT(EPOCH FROM (end_time - start_time)))::BIGINT + 1 $$;

INSERT INTO event_stats (user_id, shard, event_count, longest_secs)
    SELECT user_id, 0, COUNT(*), MAX(event_stats_secs(start_time, end_time))
    FROM events GROUP BY user_id;

-- Adds `delta` events and a duration to this backend's shard of the user.
CREATE FUNCTION event_stats_add(uid BIGINT, delta BIGINT, secs BIGINT) RETURNS VOID
    LANGUAGE sql
    AS $$
    INSERT INTO event_stats AS s (user_id, shard, event_count, longest_secs)
        VALUES (uid, pg_backend_pid() % 16, delta, secs)
    ON CONFLICT (user_id, shard) DO UPDATE
        SET event_count = s.event_count + EXCLUDED.event_count,
            longest_secs = GREATEST(s.longest_secs, EXCLUDED.longest_secs)
    $$;

CREATE FUNCTION event_stats_on_write() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    secs BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM event_stats_add(NEW.user_id, 1, event_stats_secs(NEW.start_time, NEW.end_time));
    ELSIF TG_OP = 'DELETE' THEN
        -- A user deleted with their events has no row to count in (and takes its shards
        -- with it).
        IF EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id) THEN
            PERFORM event_stats_add(OLD.user_id, -1, 0);
        END IF;
    ELSE
        secs := event_stats_secs(NEW.start_time, NEW.end_time);
        -- Most edits do not lengthen the user's longest event: they write nothing here.
        IF secs > COALESCE((SELECT MAX(longest_secs) FROM event_stats
                            WHERE user_id = NEW.user_id), 0) THEN
            PERFORM event_stats_add(NEW.user_id, 0, secs);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER event_stats_insert AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION event_stats_on_write();
CREATE TRIGGER event_stats_delete AFTER DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION event_stats_on_write();
CREATE TRIGGER event_stats_update AFTER UPDATE OF start_time, end_time ON events
    FOR EACH ROW
    WHEN (NEW.end_time - NEW.start_time > OLD.end_time - OLD.start_time)
    EXECUTE FUNCTION event_stats_on_write();

-- A page is read in (start_time, id) order: with id in the index the order is the index's,
-- and the page's ids come from the index alone. SQLite's events_user_start has the rowid
-- (our id) at its end already.
CREATE INDEX events_user_start_id ON events (user_id, start_time, id);
DROP INDEX events_user_start;
