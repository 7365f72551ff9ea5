//! Kabinet's HTTP layer: the actix-web application, its extractors and handlers, the
//! problem+json mapping, the OpenAPI document and the background workers.

pub mod app;
pub mod auth;
pub mod blocking;
pub mod clock;
pub mod codes;
pub mod concurrency;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod dispatcher;
pub mod edge;
pub mod error;
pub mod events;
pub mod forms;
pub mod http_errors;
pub mod idempotency;
pub mod jobs;
pub mod metrics;
pub mod node_keys;
pub mod open_files;
pub mod openapi;
pub mod pii_sentinel;
pub mod redoc;
pub mod routes;
pub mod sealer;
pub mod state;
pub mod telemetry;
pub mod usecases;
pub mod validation;
pub mod vault;
pub mod views;

pub use app::{spec, Application, Shutdown, StartError};
pub use config::{Config, Source};
