DROP INDEX application_history_actor;
DELETE FROM counters WHERE name = 'delegation_number';
DROP TABLE confirmations;
DROP TABLE delegation_term_changes;
DROP TABLE delegation_events;
DROP TABLE delegations;
DROP TABLE organisation_employees;
DROP TABLE organisations;
