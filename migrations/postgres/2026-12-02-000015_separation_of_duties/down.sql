DROP TABLE application_assignments;
ALTER TABLE participants DROP COLUMN invited_on_behalf_of;
ALTER TABLE invitations DROP COLUMN invited_on_behalf_of;
