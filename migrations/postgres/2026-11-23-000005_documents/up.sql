-- Documents (SPEC §5): stored bytes, the personal vault, and application attachments.

-- One row per stored content, named by its SHA-256: the bytes live in the blob store
-- (file system or object storage) under that name. `touched_at` is refreshed by every
-- upload of the same content, so the orphan sweep never removes bytes an upload in
-- progress is about to point a row at.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    touched_at TIMESTAMP NOT NULL
);
CREATE INDEX blobs_touched ON blobs (touched_at);

CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES accounts (id),
    uploaded_by TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    file_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    access_level TEXT NOT NULL,
    access_services TEXT NULL,
    retain_until DATE NULL,
    retention_notified BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX documents_owner ON documents (owner_id, created_at, id);
CREATE INDEX documents_sha256 ON documents (sha256);
CREATE INDEX documents_retention ON documents (retain_until);

-- What an application carries: a snapshot of a vault document (its bytes stay even if the
-- vault copy is deleted). Frozen at submission; a later change is a new revision of the
-- same document type and the old one is kept, marked superseded.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    document_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    name TEXT NOT NULL,
    file_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    revision BIGINT NOT NULL,
    supersedes TEXT NULL REFERENCES attachments (id),
    attached_by TEXT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    frozen_at TIMESTAMP NULL,
    superseded_at TIMESTAMP NULL
);
CREATE INDEX attachments_application ON attachments (application_id, created_at);
CREATE INDEX attachments_sha256 ON attachments (sha256);
