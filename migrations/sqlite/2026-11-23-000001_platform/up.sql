-- The platform: accounts and their logins, the hash-chained audit log, in-app
-- notifications and the transactional outbox. Ids are canonical lowercase UUID text and
-- times are UTC TIMESTAMPs so the same diesel code serves PostgreSQL and SQLite.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    display_name TEXT NOT NULL,
    roles TEXT NOT NULL,
    agency_code TEXT NULL,
    level TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email TEXT NULL,
    phone TEXT NULL,
    surname TEXT NULL,
    given_name TEXT NULL,
    patronymic TEXT NULL,
    birth_date DATE NULL,
    -- Personal data encrypted at rest (AEAD, "kid:nonce+ciphertext"); never stored in clear.
    snils_enc TEXT NULL,
    inn_enc TEXT NULL,
    passport_enc TEXT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP NULL,
    totp_secret_enc TEXT NULL,
    totp_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step BIGINT NULL,
    -- Comma-separated IPs or CIDR networks; NULL allows every address.
    ip_allow_list TEXT NULL
);

-- Every way to log in (e-mail, phone, SNILS blind index, staff user name) is one row, so a
-- login belongs to exactly one account across all kinds.
CREATE TABLE account_logins (
    login_key TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX account_logins_account ON account_logins (account_id);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    occurred_at TIMESTAMP NOT NULL,
    actor_id TEXT NULL,
    on_behalf_of TEXT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NULL,
    details TEXT NOT NULL,
    ip TEXT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_principal ON audit_log (on_behalf_of, seq);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, seq);

-- The chain's tail: its row lock serialises appenders, so concurrent transactions never
-- fork the chain, and verify can tell a truncated tail from an intact one.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    recipient_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT NOT NULL,
    important BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    read_at TIMESTAMP NULL,
    acknowledged_at TIMESTAMP NULL
);
CREATE INDEX notifications_recipient ON notifications (recipient_id, created_at);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    notification_id TEXT NULL REFERENCES notifications (id) ON DELETE SET NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    code TEXT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP NULL,
    last_error TEXT NULL,
    sent_at TIMESTAMP NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
