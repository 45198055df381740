//! Kafka consumers that turn the change stream into read models:
//!
//! - `analytics`: training events → Polars → progress tables (effectively once: offsets
//!   committed with the results).
//! - `alerts`: the analytics job's signals, booking changes and workout comments →
//!   trigger rules → alerts in notificationdb's inboxes (exactly once, deduplicated,
//!   with cooldowns).
//! - `indexer`: every domain event → OpenSearch (deterministic ids; replays overwrite).
//! - `projector`: relationship and gym events → each service's `access_grants`.
//!
//! The consumer plumbing (sources, runner, offsets, dead letters) is
//! `fitsync_platform::stream`. Every job sends what it cannot decode to the dead-letter
//! topic and goes on.

pub mod alerts;
pub mod analytics;
pub mod indexer;
pub mod projector;

pub use alerts::AlertsJob;
pub use analytics::ProgressAnalytics;
pub use indexer::EventIndexer;
pub use projector::AccessProjector;
