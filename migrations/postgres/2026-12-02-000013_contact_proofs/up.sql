-- Contacts are proven before they count (issue 14, C.9). An e-mail or phone becomes a
-- login key (account_logins, unique) only when a code sent to it comes back; until then
-- the account merely claims it, and claims are not unique, so a squatter never blocks
-- the real owner: whoever proves the contact first gets it, and the other claims are
-- released. Accounts that existed before hold login keys for their contacts already.
ALTER TABLE accounts ADD COLUMN email_proven BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE accounts ADD COLUMN phone_proven BOOLEAN NOT NULL DEFAULT TRUE;
-- The blind index of a SNILS claimed by an account whose identity is not confirmed yet:
-- the SNILS becomes a login key at confirmation, which releases every other claim on it.
ALTER TABLE accounts ADD COLUMN snils_claim TEXT NULL;
CREATE INDEX accounts_snils_claim ON accounts (snils_claim);
CREATE INDEX accounts_email ON accounts (email);
CREATE INDEX accounts_phone ON accounts (phone);
