-- Identity and sessions: refresh-token families, TOTP recovery codes, one-time codes for
-- password reset and contact changes, and the addresses each account has logged in from.

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP NULL,
    revoked_reason TEXT NULL,
    ip TEXT NULL,
    user_agent TEXT NULL,
    amr TEXT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id, created_at);

-- Every refresh token a session has had; a rotated one presented again revokes the session.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP NULL
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE recovery_codes (
    code_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    used_at TIMESTAMP NULL
);
CREATE INDEX recovery_codes_account ON recovery_codes (account_id);

CREATE TABLE one_time_codes (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    -- For a contact change: the new contact, as "email:..." or "phone:...".
    target TEXT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL,
    used_at TIMESTAMP NULL
);
CREATE INDEX one_time_codes_account ON one_time_codes (account_id, purpose, created_at);

CREATE TABLE known_ips (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, ip)
);
