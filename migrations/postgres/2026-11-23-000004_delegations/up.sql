-- Delegation of powers: delegations (shaped like the machine-readable power of attorney),
-- their event history, term-change requests both parties confirm, and the confirmation
-- requests a principal approves for what a representative could not do alone.

-- An organisation is an account of its own (role `organisation`, no login), so it can be a
-- principal and own applications like a person; this table holds what makes it a legal
-- entity, and its head acts for it without a power of attorney.
CREATE TABLE organisations (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    ogrn TEXT NOT NULL UNIQUE,
    inn TEXT NOT NULL UNIQUE,
    kpp TEXT NULL,
    name TEXT NOT NULL,
    head_account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX organisations_head ON organisations (head_account_id);

CREATE TABLE organisation_employees (
    organisation_id TEXT NOT NULL REFERENCES organisations (account_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organisation_id, account_id)
);
CREATE INDEX organisation_employees_account ON organisation_employees (account_id);

CREATE TABLE delegations (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    principal_id TEXT NOT NULL REFERENCES accounts (id),
    representative_id TEXT NOT NULL REFERENCES accounts (id),
    parent_id TEXT NULL REFERENCES delegations (id),
    kind TEXT NOT NULL,
    -- JSON arrays: the actions (specific) and the services (specific, optional).
    actions TEXT NOT NULL,
    services TEXT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_until TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    redelegation_allowed BOOLEAN NOT NULL,
    -- The acceptance code the principal passes on out of band: a keyed hash, limited tries.
    code_hash TEXT NOT NULL,
    code_attempts INTEGER NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP NULL,
    ended_at TIMESTAMP NULL,
    reminded_at TIMESTAMP NULL
);
-- The per-request check: every delegation from one principal to one representative.
CREATE INDEX delegations_pair ON delegations (representative_id, principal_id, created_at);
CREATE INDEX delegations_principal ON delegations (principal_id, created_at, id);
CREATE INDEX delegations_representative ON delegations (representative_id, created_at, id);
CREATE INDEX delegations_parent ON delegations (parent_id);
CREATE INDEX delegations_ending ON delegations (status, valid_until);

CREATE TABLE delegation_events (
    id TEXT PRIMARY KEY,
    delegation_id TEXT NOT NULL REFERENCES delegations (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_id TEXT NULL,
    event TEXT NOT NULL,
    from_status TEXT NULL,
    to_status TEXT NOT NULL,
    details TEXT NOT NULL,
    UNIQUE (delegation_id, seq)
);

CREATE TABLE delegation_term_changes (
    id TEXT PRIMARY KEY,
    delegation_id TEXT NOT NULL REFERENCES delegations (id) ON DELETE CASCADE,
    valid_from TIMESTAMP NOT NULL,
    valid_until TIMESTAMP NOT NULL,
    requested_by TEXT NOT NULL,
    principal_confirmed BOOLEAN NOT NULL,
    representative_confirmed BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP NULL
);
CREATE INDEX delegation_term_changes_delegation ON delegation_term_changes (delegation_id, created_at);

CREATE TABLE confirmations (
    id TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES accounts (id),
    representative_id TEXT NOT NULL REFERENCES accounts (id),
    delegation_id TEXT NOT NULL REFERENCES delegations (id),
    action TEXT NOT NULL,
    -- The held request, as JSON.
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    -- What executing it produced (e.g. the application id), as JSON.
    result TEXT NULL,
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP NULL
);
CREATE INDEX confirmations_principal ON confirmations (principal_id, created_at);
CREATE INDEX confirmations_representative ON confirmations (representative_id, created_at);

INSERT INTO counters (name, value) VALUES ('delegation_number', 0);

-- Counting a representative's new applications per principal per day.
CREATE INDEX application_history_actor ON application_history (actor_id, on_behalf_of, event, occurred_at);
