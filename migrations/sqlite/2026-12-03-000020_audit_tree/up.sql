-- The audit log without a lock shared by all writers: a request's transaction inserts its
-- records unsealed, and the sealer (on SQLite, the single writer) gives them positions in
-- an RFC 9162 Merkle tree in commit order and signs checkpoints of it. The hash chain and
-- its head row go: records from before this migration become the tree's first leaves (in
-- seq order) at the first sealing pass. SQLite cannot change a primary key in place, so the
-- table is rebuilt.
DROP TABLE audit_head;

CREATE TABLE audit_log_tree (
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
    ip TEXT NULL,
    -- The inserting transaction's id on PostgreSQL; always NULL here.
    txid BIGINT NULL,
    -- The record's position in the tree; NULL until sealed.
    leaf_index BIGINT NULL UNIQUE
);
INSERT INTO audit_log_tree (seq, id, occurred_at, actor_id, on_behalf_of, action, target_type, target_id, details, ip)
SELECT seq, id, occurred_at, actor_id, on_behalf_of, action, target_type, target_id, details, ip
FROM audit_log ORDER BY seq;
DROP TABLE audit_log;
ALTER TABLE audit_log_tree RENAME TO audit_log;
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_principal ON audit_log (on_behalf_of, seq);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, seq);
CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE leaf_index IS NULL;

-- Append-only, except the sealer's one change: giving an unsealed record its position.
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

-- Hashes of the tree's perfect subtrees (2^level leaves from idx * 2^level), hex; level 0
-- holds each leaf's hash as sealed. Proofs and roots are computed from these.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed statements "the first tree_size records have this root" (Ed25519 over the bytes
-- documented in domain::audit::Checkpoint, by the key `kid` of the JWKS).
CREATE TABLE audit_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root_hash TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL,
    kid TEXT NOT NULL,
    signature TEXT NOT NULL
);

CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
BEGIN
    SELECT RAISE(ABORT, 'audit_nodes is append-only');
END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN
    SELECT RAISE(ABORT, 'audit_nodes is append-only');
END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
