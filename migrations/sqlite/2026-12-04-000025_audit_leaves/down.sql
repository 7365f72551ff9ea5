-- Positions back into audit_log (rebuilt with leaf_index and txid; the sealer's UPDATE
-- allowed again by the trigger).
CREATE TABLE audit_log_positions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    occurred_at TIMESTAMP NOT NULL,
    actor_id TEXT NULL,
    on_behalf_of TEXT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NULL,
    details TEXT NOT NULL,
    ip TEXT NULL,
    txid BIGINT NULL,
    leaf_index BIGINT NULL UNIQUE
);
INSERT INTO audit_log_positions (seq, id, occurred_at, actor_id, on_behalf_of, action, target_type, target_id, details, ip, leaf_index)
SELECT a.seq, a.id, a.occurred_at, a.actor_id, a.on_behalf_of, a.action, a.target_type, a.target_id, a.details, a.ip, l.leaf_index
FROM audit_log AS a LEFT JOIN audit_leaves AS l ON l.seq = a.seq ORDER BY a.seq;
DROP TABLE audit_log;
ALTER TABLE audit_log_positions RENAME TO audit_log;
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_principal ON audit_log (on_behalf_of, seq);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_time ON audit_log (occurred_at, seq);
CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE leaf_index IS NULL;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (OLD.leaf_index IS NULL AND NEW.leaf_index IS NOT NULL
          AND NEW.seq IS OLD.seq AND NEW.id IS OLD.id AND NEW.occurred_at IS OLD.occurred_at
          AND NEW.actor_id IS OLD.actor_id AND NEW.on_behalf_of IS OLD.on_behalf_of
          AND NEW.action IS OLD.action AND NEW.target_type IS OLD.target_type
          AND NEW.target_id IS OLD.target_id AND NEW.details IS OLD.details
          AND NEW.ip IS OLD.ip AND NEW.txid IS OLD.txid)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
DROP TABLE audit_unsealed;
DROP TABLE audit_leaves;
