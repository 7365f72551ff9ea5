-- Search text stays folded (ё read as е): harmless to the earlier code.
UPDATE accounts SET level = 'confirmed' WHERE id IN (SELECT account_id FROM organisations);
DROP INDEX organisations_inn;
DROP INDEX organisations_ogrn;
DROP INDEX organisations_verified_inn;
DROP INDEX organisations_verified_ogrn;
-- Without a status, only one registration per OGRN and INN can stay: keep the verified one.
DELETE FROM organisations o WHERE o.status <> 'verified' AND EXISTS (
    SELECT 1 FROM organisations v
    WHERE v.account_id <> o.account_id AND (v.ogrn = o.ogrn OR v.inn = o.inn)
);
ALTER TABLE organisations ADD CONSTRAINT organisations_ogrn_key UNIQUE (ogrn);
ALTER TABLE organisations ADD CONSTRAINT organisations_inn_key UNIQUE (inn);
ALTER TABLE organisations DROP COLUMN rejection_reason;
ALTER TABLE organisations DROP COLUMN decided_at;
ALTER TABLE organisations DROP COLUMN decided_by;
ALTER TABLE organisations DROP COLUMN status;
