-- Search text stays folded (ё read as е): harmless to the earlier code.
UPDATE accounts SET level = 'confirmed' WHERE id IN (SELECT account_id FROM organisations);
-- Without a status, only one registration per OGRN and INN can stay: keep the verified one.
DELETE FROM organisations WHERE status <> 'verified' AND EXISTS (
    SELECT 1 FROM organisations v
    WHERE v.account_id <> organisations.account_id
      AND (v.ogrn = organisations.ogrn OR v.inn = organisations.inn)
);
CREATE TABLE organisations_v1 (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    ogrn TEXT NOT NULL UNIQUE,
    inn TEXT NOT NULL UNIQUE,
    kpp TEXT NULL,
    name TEXT NOT NULL,
    head_account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL
);
INSERT INTO organisations_v1 SELECT account_id, ogrn, inn, kpp, name, head_account_id, created_at FROM organisations;
CREATE TABLE organisation_employees_v1 (
    organisation_id TEXT NOT NULL REFERENCES organisations_v1 (account_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organisation_id, account_id)
);
INSERT INTO organisation_employees_v1 SELECT organisation_id, account_id, added_at FROM organisation_employees;
DROP TABLE organisation_employees;
DROP TABLE organisations;
ALTER TABLE organisations_v1 RENAME TO organisations;
ALTER TABLE organisation_employees_v1 RENAME TO organisation_employees;
CREATE INDEX organisations_head ON organisations (head_account_id);
CREATE INDEX organisation_employees_account ON organisation_employees (account_id);
