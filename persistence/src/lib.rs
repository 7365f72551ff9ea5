//! Kabinet's storage: the diesel schema, repositories and migrations for PostgreSQL and
//! SQLite through one code path. Functions take `&mut DbConnection` so they run inside the
//! caller's transaction.

pub mod accounts;
pub mod applications;
pub mod assignments;
pub mod attempts;
pub mod audit;
pub mod catalog;
pub mod codes;
pub mod connection;
pub mod database;
pub mod delegations;
pub mod documents;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod joint;
pub mod locks;
mod native;
pub mod node_keys;
pub mod notifications;
pub mod organisations;
pub mod outbox;
pub mod prepared;
pub mod rate_limits;
pub mod records;
mod rows;
pub mod schema;
pub mod sessions;
pub mod stream_tickets;
pub mod templates;
pub mod test_server;

pub use connection::{DatabaseUrl, DbConnection};
pub use database::{transaction, Backend, Database, PoolUsage};
pub use error::StoreError;
