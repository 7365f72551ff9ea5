-- Sealing no longer rewrites audit records. It gave each record its tree position with an
-- UPDATE of audit_log: a new version of the row, with an entry in each of the table's eight
-- indexes, three uniqueness checks and a trigger call per record, about as much work as the
-- request that wrote the record. Positions now go to a table of their own, append-only
-- like the tree, and the records waiting for the sealer to a queue it empties; audit_log
-- is append-only without exception.

-- Which record sits at each leaf of the tree.
CREATE TABLE audit_leaves (
    leaf_index BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE
);
INSERT INTO audit_leaves (leaf_index, seq)
SELECT leaf_index, seq FROM audit_log WHERE leaf_index IS NOT NULL;
CREATE TRIGGER audit_leaves_no_change BEFORE UPDATE OR DELETE ON audit_leaves
    FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();

-- Records not sealed yet, each with its inserting transaction's id (xid8 as a number): the
-- sealer takes only records of transactions below its snapshot's xmin, which can no longer
-- commit. NULL: written before the tree (long committed).
CREATE TABLE audit_unsealed (
    seq BIGINT PRIMARY KEY,
    txid BIGINT NULL DEFAULT (pg_current_xact_id()::text::bigint)
);
INSERT INTO audit_unsealed (seq, txid)
SELECT seq, txid FROM audit_log WHERE leaf_index IS NULL;

DROP INDEX audit_log_unsealed;
ALTER TABLE audit_log DROP COLUMN leaf_index;
ALTER TABLE audit_log DROP COLUMN txid;
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
