//! What every FitSync component shares: configuration, telemetry, errors, auth,
//! health, metrics, the outbox writer, database setup and shutdown.

pub mod auth;
pub mod config;
pub mod db;
pub mod fault;
pub mod health;
pub mod kafka;
pub mod metrics;
pub mod openapi;
pub mod outbox;
pub mod problem;
pub mod redis;
pub mod sealed;
pub mod server;
pub mod shutdown;
pub mod signature;
pub mod stream;
pub mod telemetry;
pub mod web;

pub use auth::{AuthUser, Authenticator, Claims, KeySet, Role};
pub use config::Settings;
pub use problem::{ApiError, ApiJson, ApiPath, ApiQuery, FieldError, Problem};
