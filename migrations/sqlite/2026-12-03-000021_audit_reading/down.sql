DROP INDEX audit_log_time;
DROP INDEX audit_log_action;
