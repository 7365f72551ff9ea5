-- Sealing no longer rewrites audit records. It gave each record its tree position with an
-- UPDATE of audit_log (a row rewritten with its indexes, and a trigger check per record).
-- Positions now go to a table of their own, append-only like the tree, and the records
-- waiting for the sealer to a queue it empties; audit_log is append-only without exception.
-- SQLite cannot drop a UNIQUE column, so the table is rebuilt without it (and without txid,
-- PostgreSQL's, which now sits in the queue).

-- Which record sits at each leaf of the tree.
CREATE TABLE audit_leaves (
    leaf_index BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE
);
INSERT INTO audit_leaves (leaf_index, seq)
SELECT leaf_index, seq FROM audit_log WHERE leaf_index IS NOT NULL;
CREATE TRIGGER audit_leaves_no_update BEFORE UPDATE ON audit_leaves
BEGIN
    SELECT RAISE(ABORT, 'audit_leaves is append-only');
END;
CREATE TRIGGER audit_leaves_no_delete BEFORE DELETE ON audit_leaves
BEGIN
    SELECT RAISE(ABORT, 'audit_leaves is append-only');
END;

-- Records not sealed yet (txid: the inserting transaction's id on PostgreSQL; always NULL
-- here, where writers are serialised and every record a reader sees is final).
CREATE TABLE audit_unsealed (
    seq BIGINT PRIMARY KEY,
    txid BIGINT NULL
);
INSERT INTO audit_unsealed (seq) SELECT seq FROM audit_log WHERE leaf_index IS NULL;

CREATE TABLE audit_log_records (
    -- The insertion number (insertion order; on SQLite writers are serialised, so also
    -- commit order).
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    occurred_at TIMESTAMP NOT NULL,
    actor_id TEXT NULL,
    on_behalf_of TEXT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NULL,
    details TEXT NOT NULL,
    ip TEXT NULL
);
INSERT INTO audit_log_records (seq, id, occurred_at, actor_id, on_behalf_of, action, target_type, target_id, details, ip)
SELECT seq, id, occurred_at, actor_id, on_behalf_of, action, target_type, target_id, details, ip
FROM audit_log ORDER BY seq;
DROP TABLE audit_log;
ALTER TABLE audit_log_records RENAME TO audit_log;
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_principal ON audit_log (on_behalf_of, seq);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_time ON audit_log (occurred_at, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
