-- Back to the hash chain's columns; the chain itself cannot be rebuilt here (its hashes
-- were dropped), so the old verify reports the log broken after a downgrade.
DROP TABLE audit_checkpoints;
DROP TABLE audit_nodes;
DROP FUNCTION audit_tree_append_only();
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
DROP INDEX audit_log_unsealed;
ALTER TABLE audit_log DROP COLUMN leaf_index;
ALTER TABLE audit_log DROP COLUMN txid;
ALTER TABLE audit_log ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
SELECT 1, COALESCE(MAX(seq), 0), '0000000000000000000000000000000000000000000000000000000000000000'
FROM audit_log;
