-- A code is looked up among the account's unused codes of one purpose, newest first. The
-- index held every code ever sent, so the lookup stepped over each used code (a heap or
-- table read apiece) before reaching the live one: a citizen's thousandth signature paid
-- for the 999 before it. Only unused codes are ever looked up, so only they are indexed.
DROP INDEX one_time_codes_account;
CREATE INDEX one_time_codes_live ON one_time_codes (account_id, purpose, created_at)
    WHERE used_at IS NULL;
