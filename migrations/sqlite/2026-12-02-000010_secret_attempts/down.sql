ALTER TABLE accounts ADD COLUMN locked_until TIMESTAMP NULL;
ALTER TABLE accounts ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
DROP TABLE spent_tokens;
DROP TABLE secret_attempts;
