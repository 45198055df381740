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

use std::{collections::HashMap, time::Duration};

use fitsync_events::{Topic, Topics};

use crate::{
    config::{JobSettings, KafkaSettings},
    kafka,
};

pub use dead_letter::DeadLetters;
pub use runner::BatchJob;
pub use source::KafkaSource;
pub use stats::JobStats;

/// What a consumer is: its group, its topics, its batch settings and where its dead
/// letters go. Every job and worker builds one.
pub struct ConsumerSpec {
    pub kafka: KafkaSettings,
    pub group: String,
    pub topics: Vec<String>,
    pub dead_letters: DeadLetters,
    batching: Batching,
}

/// How a consumer fetches and cuts micro-batches (`[jobs]` settings).
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub max_batch: usize,
    pub window: Duration,
    pub fetch_wait: Duration,
    pub stats_interval: Duration,
}

impl ConsumerSpec {
    /// Group `<topic prefix><group prefix>-<name>`; dead letters labelled `name`.
    pub fn new(
        kafka: &KafkaSettings,
        jobs: &JobSettings,
        name: &str,
        topics: &[Topic],
    ) -> anyhow::Result<Self> {
        let names = Topics::new(kafka.topic_prefix.clone());
        Ok(Self {
            group: format!(
                "{}{}-{name}",
                kafka.topic_prefix, jobs.consumer_group_prefix
            ),
            topics: topics.iter().map(|t| names.name(*t)).collect(),
            dead_letters: DeadLetters::new(kafka, name)?,
            kafka: kafka.clone(),
            batching: Batching {
                max_batch: jobs.max_batch,
                window: Duration::from_millis(jobs.batch_window_ms),
                fetch_wait: Duration::from_millis(jobs.fetch_wait_ms),
                stats_interval: Duration::from_millis(jobs.stats_interval_ms),
            },
        })
    }

    /// Lets a batch fill for at least `window` after its first message (it still closes
    /// when full).
    pub fn min_window(mut self, window: Duration) -> Self {
        self.batching.window = self.batching.window.max(window);
        self
    }

    /// Caps the batch size (for sinks that do per-message work).
    pub fn max_batch(mut self, cap: usize) -> Self {
        self.batching.max_batch = self.batching.max_batch.min(cap);
        self
    }

    /// Creates the topics (and the dead-letter topic) with the configured partitions.
    pub async fn ensure_topics(&self) -> anyhow::Result<()> {
        let names = Topics::new(self.kafka.topic_prefix.clone());
        let mut all: Vec<(String, bool)> = Topic::ALL
            .iter()
            .filter(|t| self.topics.contains(&names.name(**t)))
            .map(|t| (names.name(*t), t.compacted()))
            .collect();
        all.push((names.name(Topic::DeadLetter), false));
        kafka::ensure_topics(&self.kafka, &all).await
    }

    /// A new consumer of the topics, starting from `stored` offsets where given.
    pub fn subscribe(
        &self,
        stored: Option<HashMap<offsets::PartitionKey, i64>>,
    ) -> anyhow::Result<KafkaSource> {
        KafkaSource::subscribe(
            &self.kafka,
            &self.group,
            &self.topics,
            stored,
            self.batching,
        )
    }
}
