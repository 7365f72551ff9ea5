-- Back to the hash chain's columns; the chain itself cannot be rebuilt here (its hashes
-- were dropped), so the old verify reports the log broken after a downgrade.
DROP TABLE audit_checkpoints;
DROP TABLE audit_nodes;
CREATE TABLE audit_log_chain (
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
INSERT INTO audit_log_chain
SELECT seq, id, occurred_at, actor_id, on_behalf_of, action, target_type, target_id, details, ip, '', ''
FROM audit_log ORDER BY seq;
DROP TABLE audit_log;
ALTER TABLE audit_log_chain RENAME TO audit_log;
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_principal ON audit_log (on_behalf_of, seq);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
SELECT 1, COALESCE(MAX(seq), 0), '0000000000000000000000000000000000000000000000000000000000000000'
FROM audit_log;
