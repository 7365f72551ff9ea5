-- Issue 14 C.9: an organisation's registration is a claim until an officer or admin checks
-- it against the state register. Anyone can type a real company's OGRN and INN, so only a
-- verified registration holds them exclusively (a partial unique index); pending claims of
-- the same numbers may coexist, and verifying one rejects the others. Registrations made
-- before this migration were never checked: they start pending like new ones, and their
-- accounts lose the `confirmed` level until staff verify them.
ALTER TABLE organisations ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE organisations ADD COLUMN decided_by TEXT NULL REFERENCES accounts (id);
ALTER TABLE organisations ADD COLUMN decided_at TIMESTAMP NULL;
ALTER TABLE organisations ADD COLUMN rejection_reason TEXT NULL;
ALTER TABLE organisations DROP CONSTRAINT organisations_ogrn_key;
ALTER TABLE organisations DROP CONSTRAINT organisations_inn_key;
CREATE UNIQUE INDEX organisations_verified_ogrn ON organisations (ogrn) WHERE status = 'verified';
CREATE UNIQUE INDEX organisations_verified_inn ON organisations (inn) WHERE status = 'verified';
CREATE INDEX organisations_ogrn ON organisations (ogrn);
CREATE INDEX organisations_inn ON organisations (inn);
UPDATE accounts SET level = 'simplified' WHERE id IN (SELECT account_id FROM organisations);

-- Issue 15 item 12: searches read ё as е. Search text written from now on is folded when
-- it is stored; fold what is stored already (composed ё, and ё left decomposed).
UPDATE applications SET search_text = REPLACE(REPLACE(search_text, 'ё', 'е'), 'ё', 'е');
UPDATE services SET search_text = REPLACE(REPLACE(search_text, 'ё', 'е'), 'ё', 'е');
