-- The service of each live event's application, so that a stream watched on behalf under
-- powers limited to services (SPEC §2) carries, and replays, only those services' events.
ALTER TABLE events ADD COLUMN service_code TEXT;
UPDATE events SET service_code =
    (SELECT applications.service_code FROM applications WHERE applications.id = events.application_id);
