INSERT INTO counters (name, value)
  SELECT 'application_number', CASE WHEN is_called THEN last_value ELSE 0 END FROM application_number_seq;
INSERT INTO counters (name, value)
  SELECT 'delegation_number', CASE WHEN is_called THEN last_value ELSE 0 END FROM delegation_number_seq;
INSERT INTO counters (name, value) SELECT 'event_id', COALESCE(MAX(id), 0) FROM events;
DROP SEQUENCE delegation_number_seq;
DROP SEQUENCE application_number_seq;
