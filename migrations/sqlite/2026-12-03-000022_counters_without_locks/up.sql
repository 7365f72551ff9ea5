-- Nothing to change on SQLite: its one writer at a time never waits on a counter row, so
-- numbers and live-event ids keep coming from `counters` (see the PostgreSQL migration).
SELECT 1;
