-- Issue 14 C.9: an organisation's registration is a claim until an officer or admin checks
-- it against the state register. Anyone can type a real company's OGRN and INN, so only a
-- verified registration holds them exclusively (a partial unique index); pending claims of
-- the same numbers may coexist, and verifying one rejects the others. Registrations made
-- before this migration were never checked: they start pending like new ones, and their
-- accounts lose the `confirmed` level until staff verify them.
-- SQLite cannot drop a column's UNIQUE constraint: both tables are rebuilt (the employees
-- refer to the organisations, and renaming a table rewrites the references to it).
CREATE TABLE organisations_v2 (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    ogrn TEXT NOT NULL,
    inn TEXT NOT NULL,
    kpp TEXT NULL,
    name TEXT NOT NULL,
    head_account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    decided_by TEXT NULL REFERENCES accounts (id),
    decided_at TIMESTAMP NULL,
    rejection_reason TEXT NULL
);
INSERT INTO organisations_v2 (account_id, ogrn, inn, kpp, name, head_account_id, created_at)
    SELECT account_id, ogrn, inn, kpp, name, head_account_id, created_at FROM organisations;
CREATE TABLE organisation_employees_v2 (
    organisation_id TEXT NOT NULL REFERENCES organisations_v2 (account_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organisation_id, account_id)
);
INSERT INTO organisation_employees_v2 SELECT organisation_id, account_id, added_at FROM organisation_employees;
DROP TABLE organisation_employees;
DROP TABLE organisations;
ALTER TABLE organisations_v2 RENAME TO organisations;
ALTER TABLE organisation_employees_v2 RENAME TO organisation_employees;
CREATE INDEX organisations_head ON organisations (head_account_id);
CREATE INDEX organisation_employees_account ON organisation_employees (account_id);
CREATE UNIQUE INDEX organisations_verified_ogrn ON organisations (ogrn) WHERE status = 'verified';
CREATE UNIQUE INDEX organisations_verified_inn ON organisations (inn) WHERE status = 'verified';
CREATE INDEX organisations_ogrn ON organisations (ogrn);
CREATE INDEX organisations_inn ON organisations (inn);
UPDATE accounts SET level = 'simplified' WHERE id IN (SELECT account_id FROM organisations);

-- Issue 15 item 12: searches read ё as е. Search text written from now on is folded when
-- it is stored; fold what is stored already (composed ё, and ё left decomposed).
UPDATE applications SET search_text = REPLACE(REPLACE(search_text, 'ё', 'е'), 'ё', 'е');
UPDATE services SET search_text = REPLACE(REPLACE(search_text, 'ё', 'е'), 'ё', 'е');
