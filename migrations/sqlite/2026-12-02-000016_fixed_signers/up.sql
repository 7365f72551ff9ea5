-- Who had to sign a joint application, fixed at its first submission (JSON list of
-- account ids; empty: not joint), and the content hash they all signed last.
ALTER TABLE applications ADD COLUMN signers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE applications ADD COLUMN signed_hash TEXT;
