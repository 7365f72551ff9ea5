DROP TABLE outbox;
DROP TABLE notifications;
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP TABLE account_logins;
DROP TABLE accounts;
