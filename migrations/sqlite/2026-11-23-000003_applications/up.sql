-- The service catalog and applications: agencies, services with their form schema and
-- policy flags, applications with their history, templates, the number counter and the
-- idempotency keys of creating requests.

CREATE TABLE agencies (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    region TEXT NULL
);

CREATE TABLE services (
    code TEXT PRIMARY KEY,
    name_ru TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description TEXT NOT NULL,
    level TEXT NOT NULL,
    region TEXT NULL,
    agency_code TEXT NOT NULL REFERENCES agencies (code),
    form_schema TEXT NOT NULL,
    required_documents TEXT NOT NULL,
    allowed_file_types TEXT NOT NULL,
    max_file_bytes BIGINT NOT NULL,
    processing_days INTEGER NOT NULL,
    editable_after_submit BOOLEAN NOT NULL,
    cancellable_in_review BOOLEAN NOT NULL,
    co_applicants_allowed BOOLEAN NOT NULL,
    appeal_window_days INTEGER NOT NULL,
    restore_window_days INTEGER NOT NULL,
    fee_kopecks BIGINT NOT NULL,
    -- Lowercased code and names, for ?q=.
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX services_level_region ON services (level, region);

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    number TEXT NULL UNIQUE,
    owner_id TEXT NOT NULL REFERENCES accounts (id),
    service_code TEXT NOT NULL REFERENCES services (code),
    agency_code TEXT NOT NULL REFERENCES agencies (code),
    status TEXT NOT NULL,
    previous_status TEXT NULL,
    -- True while the application waits for or is in the agency's work (its queue).
    in_queue BOOLEAN NOT NULL,
    form_data TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    submitted_at TIMESTAMP NULL,
    decided_at TIMESTAMP NULL,
    cancelled_at TIMESTAMP NULL,
    info_request TEXT NULL,
    info_due_at TIMESTAMP NULL,
    appeal_used BOOLEAN NOT NULL,
    rejection_reason TEXT NULL,
    result_note TEXT NULL,
    -- Lowercased number, service name and form values, for ?q= within one owner's rows.
    search_text TEXT NOT NULL
);
-- "My applications", newest first, paginated by (created_at, id).
CREATE INDEX applications_owner ON applications (owner_id, created_at, id);
-- The agency queue, oldest first, paginated by (submitted_at, id).
CREATE INDEX applications_queue ON applications (agency_code, in_queue, submitted_at, id);
-- The expiry job: information requests past their due date.
CREATE INDEX applications_info_due ON applications (status, info_due_at);

CREATE TABLE application_history (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_id TEXT NULL,
    on_behalf_of TEXT NULL,
    event TEXT NOT NULL,
    from_status TEXT NULL,
    to_status TEXT NOT NULL,
    agency_code TEXT NOT NULL,
    comment TEXT NULL,
    UNIQUE (application_id, seq)
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('application_number', 0);

CREATE TABLE idempotency_keys (
    account_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, idempotency_key)
);

CREATE TABLE templates (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    service_code TEXT NOT NULL REFERENCES services (code),
    form_data TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX templates_owner ON templates (owner_id, created_at);
