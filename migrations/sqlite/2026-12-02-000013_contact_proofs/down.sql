DROP INDEX accounts_phone;
DROP INDEX accounts_email;
DROP INDEX accounts_snils_claim;
ALTER TABLE accounts DROP COLUMN snils_claim;
ALTER TABLE accounts DROP COLUMN phone_proven;
ALTER TABLE accounts DROP COLUMN email_proven;
