-- Positions back into audit_log (the sealer's UPDATE and its trigger exception).
ALTER TABLE audit_log ADD COLUMN txid BIGINT NULL;
ALTER TABLE audit_log ADD COLUMN leaf_index BIGINT NULL UNIQUE;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;
UPDATE audit_log AS a SET leaf_index = l.leaf_index FROM audit_leaves AS l WHERE l.seq = a.seq;
UPDATE audit_log AS a SET txid = u.txid FROM audit_unsealed AS u WHERE u.seq = a.seq;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change;
ALTER TABLE audit_log ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE leaf_index IS NULL;
DROP TABLE audit_unsealed;
DROP TABLE audit_leaves;
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.leaf_index IS NULL AND NEW.leaf_index IS NOT NULL
           AND (NEW.seq, NEW.id, NEW.occurred_at, NEW.actor_id, NEW.on_behalf_of, NEW.action,
                NEW.target_type, NEW.target_id, NEW.details, NEW.ip, NEW.txid)
               IS NOT DISTINCT FROM
               (OLD.seq, OLD.id, OLD.occurred_at, OLD.actor_id, OLD.on_behalf_of, OLD.action,
                OLD.target_type, OLD.target_id, OLD.details, OLD.ip, OLD.txid) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
