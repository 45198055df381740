//! Consuming the change stream: the plumbing every Kafka consumer shares, whether a
//! stream job (`stream-jobs/`) or a service's own worker (the notifications sender).
//!
//! - `source`: micro-batches, seeking to offsets the sink stored;
//! - `runner`: the subscribe → batch → process → commit loop, with backoff;
//! - `offsets`: offsets kept in the sink's database, in the batch's transaction;
//! - `dead_letter`: what cannot be decoded goes to the dead-letter topic, with why;
//! - `stats`: per-batch counters and latency.

pub mod dead_letter;
pub mod offsets;
pub mod runner;
pub mod source;
pub mod stats;

pub use dead_letter::DeadLetters;
pub use runner::BatchJob;
pub use source::KafkaSource;
pub use stats::JobStats;
