//! Kabinet's black-box HTTP tests: one binary, a fresh application and database per test,
//! every database test on SQLite and (with KABINET_TEST_POSTGRES) on PostgreSQL.

mod support;

mod applications;
mod audit;
mod browser;
mod claims;
mod deadlines;
mod delegation_bounds;
mod delegations;
mod documents;
mod duties;
mod edge;
mod errors;
mod events;
mod guessing;
mod idempotency;
mod identity;
mod joint;
mod keys;
mod limits;
mod local_time;
mod openapi;
mod organisations;
mod outbox;
mod service;
mod uploads;
mod web_frontends;
