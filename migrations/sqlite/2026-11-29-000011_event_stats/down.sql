DROP TRIGGER event_stats_update;
DROP TRIGGER event_stats_delete;
DROP TRIGGER event_stats_insert;
DROP TABLE event_stats;
