-- Reading the audit log (GET /api/v1/audit and its CSV export), newest first by seq. The
-- actor, principal and target filters, and a citizen's scope (actor, principal, target
-- account, target application), are served by audit_log_actor, audit_log_principal and
-- audit_log_target (2026-11-23-000001); these serve the action and time filters, so no
-- filter reads the whole table. IF NOT EXISTS: on a large log an operator may build them
-- beforehand without blocking writers (CREATE INDEX CONCURRENTLY on PostgreSQL).
CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log (action, seq);
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (occurred_at, seq);
