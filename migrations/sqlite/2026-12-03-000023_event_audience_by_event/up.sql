-- The event bus loads each new page of events with its audience (`event_id = ANY(…)`), and
-- deleting an event cascades to its audience rows: both look rows up by event, which the
-- primary key (account_id, event_id) cannot serve. Without this index every load read the
-- whole table: 4.4 ms at 20,000 rows and growing with every write, most of a write's
-- database time under load (`make bench`). IF NOT EXISTS: on a large table an operator may
-- build it beforehand without blocking writers (CREATE INDEX CONCURRENTLY on PostgreSQL).
CREATE INDEX IF NOT EXISTS event_audience_event ON event_audience (event_id);
