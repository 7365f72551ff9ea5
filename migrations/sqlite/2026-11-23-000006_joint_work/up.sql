-- Joint work on an application (SPEC §4): participants and invitations, signatures of a
-- version, requests between participants, and comments whose edits keep their history.

-- The owner is the application's owner_id; everyone else who joined is a row here.
CREATE TABLE participants (
    application_id TEXT NOT NULL REFERENCES applications (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    role TEXT NOT NULL,
    added_by TEXT NOT NULL REFERENCES accounts (id),
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (application_id, account_id)
);
CREATE INDEX participants_account ON participants (account_id);

-- The invitee is named by a login key (`email:…`, `phone:+7…`, or `snils:` and the SNILS
-- blind index), so whoever registers with that contact later finds the invitation.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    role TEXT NOT NULL,
    login_key TEXT NOT NULL,
    contact_hint TEXT NOT NULL,
    invited_by TEXT NOT NULL REFERENCES accounts (id),
    status TEXT NOT NULL,
    answered_by TEXT NULL REFERENCES accounts (id),
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP NULL,
    version BIGINT NOT NULL
);
CREATE INDEX invitations_login ON invitations (login_key, status);
CREATE INDEX invitations_application ON invitations (application_id);

-- A simple electronic signature: who signed which content (form and attachment hashes).
CREATE TABLE signatures (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    role TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    application_version BIGINT NOT NULL,
    method TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL
);
CREATE INDEX signatures_application ON signatures (application_id, content_hash);

CREATE TABLE participant_requests (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    kind TEXT NOT NULL,
    requested_by TEXT NOT NULL REFERENCES accounts (id),
    assignee_id TEXT NOT NULL REFERENCES accounts (id),
    doc_type TEXT NULL,
    message TEXT NULL,
    due_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    reminded BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    fulfilled_at TIMESTAMP NULL
);
CREATE INDEX participant_requests_application ON participant_requests (application_id, created_at);
CREATE INDEX participant_requests_open ON participant_requests (status, due_at);

CREATE TABLE comments (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    author_id TEXT NOT NULL REFERENCES accounts (id),
    on_behalf_of TEXT NULL,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    edited_at TIMESTAMP NULL
);
CREATE INDEX comments_application ON comments (application_id, created_at, id);

-- Every earlier text of an edited comment: comments are never edited silently.
CREATE TABLE comment_revisions (
    comment_id TEXT NOT NULL REFERENCES comments (id),
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    written_at TIMESTAMP NOT NULL,
    PRIMARY KEY (comment_id, version)
);
