ALTER TABLE applications DROP COLUMN restore_until;
ALTER TABLE applications DROP COLUMN appeal_until;
ALTER TABLE applications DROP COLUMN route;
ALTER TABLE services DROP COLUMN file_fills_several_papers;
ALTER TABLE services DROP COLUMN forward_to;
