DROP INDEX application_history_actor;
DROP TABLE confirmations;
DROP TABLE delegation_term_changes;
DROP TABLE delegation_events;
DROP TABLE delegations;
