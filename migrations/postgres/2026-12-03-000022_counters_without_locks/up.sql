-- Application and delegation numbers come from sequences: a counter row's lock was held by
-- every creating transaction until it committed, so all creations queued on one row.
-- A sequence hands out values without a lock; a rolled-back transaction leaves a gap,
-- which a number may have (it must be unique, not dense).
CREATE SEQUENCE application_number_seq;
SELECT setval('application_number_seq', GREATEST(value, 1), value > 0)
  FROM counters WHERE name = 'application_number';
CREATE SEQUENCE delegation_number_seq;
SELECT setval('delegation_number_seq', GREATEST(value, 1), value > 0)
  FROM counters WHERE name = 'delegation_number';
-- Live-event ids are positions from the transaction id (persistence::events::publish).
DELETE FROM counters WHERE name IN ('application_number', 'delegation_number', 'event_id');
