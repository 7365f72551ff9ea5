DROP TABLE templates;
DROP TABLE idempotency_keys;
DROP TABLE counters;
DROP TABLE application_history;
DROP TABLE applications;
DROP TABLE services;
DROP TABLE agencies;
