//! Kafka consumers: micro-batch sources, transforms and sinks.
//!
//! - `analytics`: training events → Polars → progress tables (effectively once: offsets
//!   committed with the results).
//! - `indexer`: every domain event → OpenSearch (deterministic ids; replays overwrite).
//! - `projector`: relationship and gym events → each service's `access_grants`.
//!
//! Both send what they cannot decode to the dead-letter topic and go on.

pub mod analytics;
pub mod dead_letter;
pub mod indexer;
mod metrics;
pub mod offsets;
pub mod projector;
mod runner;
pub mod source;

pub use analytics::ProgressAnalytics;
pub use indexer::EventIndexer;
pub use metrics::JobStats;
pub use projector::AccessProjector;
