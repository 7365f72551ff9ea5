ALTER TABLE events DROP COLUMN service_code;
