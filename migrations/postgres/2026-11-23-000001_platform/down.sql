DROP TABLE outbox;
DROP TABLE notifications;
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE account_logins;
DROP TABLE accounts;
