-- Failed checks of a secret, counted per key and shared by every node: a login key
-- ("account:<id>" for a known account, a keyed hash of what was typed otherwise, so an
-- unknown login locks exactly like a known one) or an account's second factor
-- ("factor:<id>"). The row is locked while a check is decided, so concurrent failures
-- count one after another. Accounts no longer keep their own counter.
CREATE TABLE secret_attempts (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP NULL
);

-- Single-use tokens (the second step of a login) that have been spent, until they expire.
CREATE TABLE spent_tokens (
    jti TEXT PRIMARY KEY,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX spent_tokens_expires ON spent_tokens (expires_at);

ALTER TABLE accounts DROP COLUMN failed_logins;
ALTER TABLE accounts DROP COLUMN locked_until;
