//! Getting data into the change stream: the outbox relay (every service database →
//! Kafka) and, later, importers of outside data.

pub mod relay;

pub use relay::{Relay, RelayStats};
