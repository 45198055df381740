//! Backfill: rebuilds every analytics table in a database from the start of the topics,
//! with the same batch code as the live job, up to where each partition ended when the
//! backfill began. Offsets are stored with the results, as live, so an interrupted
//! backfill run again goes on where it stopped.
//!
//! The intended use is blue-green: backfill into a fresh database beside the live one
//! (`fitsync backfill --database progressdb_v2`), compare, and point the progress service
//! and the job at it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fitsync_platform::{
    config::{JobSettings, KafkaSettings},
    kafka::client_config,
    stream::{offsets, runner::BatchJob},
};
use rdkafka::{
    consumer::{BaseConsumer, Consumer},
    message::OwnedMessage,
    Message, Offset, TopicPartitionList,
};
use sqlx::PgPool;

use super::ProgressAnalytics;

/// How far a backfill is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Messages applied (or found already applied) so far.
    pub done: u64,
    /// Messages between the start and the end of every partition.
    pub total: u64,
    pub elapsed: Duration,
}

impl Progress {
    /// Messages per second so far.
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Time left at the rate so far (none before anything was done).
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate();
        (self.done > 0 && rate > 0.0)
            .then(|| Duration::from_secs_f64(self.total.saturating_sub(self.done) as f64 / rate))
    }
}

/// Reads up to `batch` messages before each partition's end; returns them and how far
/// each partition was read. A compacted topic may have no message at an offset: the
/// consumer's position says how far it got past such gaps.
fn read(
    reader: &BaseConsumer,
    mut at: Positions,
    ends: &Positions,
    batch: usize,
) -> anyhow::Result<(Vec<OwnedMessage>, Positions)> {
    let mut out = Vec::with_capacity(batch);
    let mut idle_since = Instant::now();
    while out.len() < batch && at.iter().any(|(k, o)| *o < ends[k]) {
        match reader.poll(Duration::from_millis(100)) {
            Some(m) => {
                let m = m?.detach();
                let key = (m.topic().to_owned(), m.partition());
                if let Some(end) = ends.get(&key) {
                    at.insert(key, m.offset() + 1);
                    // Past the end when the backfill began: the live job's.
                    if m.offset() < *end {
                        out.push(m);
                    }
                }
                idle_since = Instant::now();
            }
            None => {
                for p in reader.position()?.elements() {
                    if let (Offset::Offset(o), Some(seen)) = (
                        p.offset(),
                        at.get_mut(&(p.topic().to_owned(), p.partition())),
                    ) {
                        *seen = (*seen).max(o);
                    }
                }
                if idle_since.elapsed() > Duration::from_secs(30) {
                    anyhow::bail!("no message from Kafka for 30 s before the end");
                }
            }
        }
    }
    Ok((out, at))
}

/// How far each (topic, partition) is read, or ends.
type Positions = HashMap<(String, i32), i64>;

/// Where each partition starts (the stored offset, or its beginning) and ends (its high
/// watermark when the backfill began).
type Span = HashMap<(String, i32), (i64, i64)>;

/// Rebuilds the analytics tables in `pool` (a migrated database: fresh, or one an
/// earlier backfill was interrupted in) in batches of `batch` messages, calling `report`
/// after each.
pub async fn run(
    pool: PgPool,
    kafka: KafkaSettings,
    jobs: JobSettings,
    batch: usize,
    mut report: impl FnMut(&Progress),
) -> anyhow::Result<Progress> {
    let job = ProgressAnalytics::new(pool.clone(), kafka.clone(), jobs)?.without_signals();
    let group = job.consumer.group.clone();
    let topics = job.consumer.topics.clone();
    let stored = offsets::load(&pool, &group).await?;
    let started = Instant::now();

    // Metadata, watermarks and polling are synchronous librdkafka calls: off the runtime.
    let mut config = client_config(&kafka);
    config
        .set("group.id", format!("{group}-backfill"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = config.create()?;
    let (consumer, span) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let timeout = Duration::from_secs(10);
        let mut span = Span::new();
        let mut assignment = TopicPartitionList::new();
        for topic in &topics {
            let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
            for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
                let p = partition.id();
                let (low, high) = consumer.fetch_watermarks(topic, p, timeout)?;
                let from = stored
                    .get(&(topic.clone(), p))
                    .copied()
                    .unwrap_or(low)
                    .max(low);
                if from < high {
                    span.insert((topic.clone(), p), (from, high));
                    assignment.add_partition_offset(topic, p, Offset::Offset(from))?;
                }
            }
        }
        consumer.assign(&assignment)?;
        Ok((consumer, span))
    })
    .await??;
    let total: u64 = span.values().map(|(from, to)| (to - from) as u64).sum();
    let consumer = std::sync::Arc::new(consumer);
    let mut next: Positions = span
        .iter()
        .map(|(k, (from, _))| (k.clone(), *from))
        .collect();
    let mut done = 0u64;
    let mut progress = Progress {
        done,
        total,
        elapsed: started.elapsed(),
    };
    report(&progress);
    while next.iter().any(|(k, at)| *at < span[k].1) {
        let reader = consumer.clone();
        let ends: Positions = span.iter().map(|(k, (_, end))| (k.clone(), *end)).collect();
        let positions = next.clone();
        let (messages, reached) =
            tokio::task::spawn_blocking(move || read(&reader, positions, &ends, batch)).await??;
        next = reached;
        if messages.is_empty() {
            continue;
        }
        job.process(&messages).await?;
        done += messages.len() as u64;
        progress = Progress {
            done,
            total,
            elapsed: started.elapsed(),
        };
        report(&progress);
    }
    Ok(progress)
}
