-- Forwarding goes only to the agencies a service names, and never back: the service
-- lists them, the application keeps the agencies that held it (JSON list, oldest first).
ALTER TABLE services ADD COLUMN forward_to TEXT NOT NULL DEFAULT '[]';
-- One file fills one required paper unless the service says a file may fill several.
ALTER TABLE services ADD COLUMN file_fills_several_papers BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE applications ADD COLUMN route TEXT NOT NULL DEFAULT '[]';
-- Appeal and restore windows fixed when they open (NULL: opened before they were kept,
-- the service's current window applies).
ALTER TABLE applications ADD COLUMN appeal_until TIMESTAMP NULL;
ALTER TABLE applications ADD COLUMN restore_until TIMESTAMP NULL;
