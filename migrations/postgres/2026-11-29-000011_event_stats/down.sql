CREATE INDEX events_user_start ON events (user_id, start_time);
DROP INDEX events_user_start_id;
DROP TRIGGER event_stats_update ON events;
DROP TRIGGER event_stats_delete ON events;
DROP TRIGGER event_stats_insert ON events;
DROP FUNCTION event_stats_on_write();
DROP FUNCTION event_stats_add(BIGINT, BIGINT, BIGINT);
DROP TABLE event_stats;
DROP FUNCTION event_stats_secs(TIMESTAMP, TIMESTAMP);
