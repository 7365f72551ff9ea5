DELETE FROM counters WHERE name = 'event_id';
DROP TABLE event_audience;
DROP TABLE events;
