//! The progress analytics job: `set_logged` events → Polars (e1RM, weekly volume) →
//! progressdb, effectively once.
//!
//! Per micro-batch, in one PostgreSQL transaction: lock this group's offsets and drop
//! messages already applied; dead-letter what cannot be decoded (acknowledged by Kafka
//! before the commit); insert the set facts (a re-published event inserts nothing);
//! aggregate only the new facts with one Polars plan; upsert the results; store the next
//! offsets; commit. Kafka commits follow, advisory only.

mod decode;
mod sink;

use std::{collections::HashMap, time::Duration};

use fitsync_analytics::{summarize, SetRow};
use fitsync_events::{Topic, Topics};
use fitsync_platform::{
    config::{JobSettings, KafkaSettings},
    fault, kafka,
};
use rdkafka::{consumer::CommitMode, message::OwnedMessage, Message};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use decode::{decode, Decoded};
use fitsync_platform::stream::{
    dead_letter::DeadLetters,
    offsets::{self, PartitionKey},
    runner::{self, BatchJob},
    source::{self, KafkaSource},
    stats::JobStats,
};

pub const JOB: &str = "analytics";

pub struct ProgressAnalytics {
    pool: PgPool,
    kafka: KafkaSettings,
    settings: JobSettings,
    group: String,
    topics: Vec<String>,
    dead_letters: DeadLetters,
}

impl ProgressAnalytics {
    pub fn new(pool: PgPool, kafka: KafkaSettings, settings: JobSettings) -> anyhow::Result<Self> {
        let names = Topics::new(kafka.topic_prefix.clone());
        Ok(Self {
            group: format!(
                "{}{}-{JOB}",
                kafka.topic_prefix, settings.consumer_group_prefix
            ),
            topics: vec![names.name(Topic::Training)],
            dead_letters: DeadLetters::new(&kafka, JOB)?,
            pool,
            kafka,
            settings,
        })
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut all_topics = self.topics.clone();
        all_topics.push(Topics::new(self.kafka.topic_prefix.clone()).name(Topic::DeadLetter));
        kafka::ensure_topics(&self.kafka, &all_topics).await?;
        runner::run(&self, &shutdown).await
    }
}

impl BatchJob for ProgressAnalytics {
    const NAME: &'static str = JOB;
    // progressdb holds the offsets; Kafka's copy is for lag monitoring only.
    const COMMIT: CommitMode = CommitMode::Async;

    async fn subscribe(&self) -> anyhow::Result<KafkaSource> {
        KafkaSource::subscribe(
            &self.kafka,
            &self.group,
            &self.topics,
            Some(offsets::load(&self.pool, &self.group).await?),
            self.settings.max_batch,
            Duration::from_millis(self.settings.batch_window_ms),
        )
    }

    #[tracing::instrument(skip_all, fields(job = JOB, messages = batch.len()), err)]
    async fn process(&self, batch: &[OwnedMessage]) -> anyhow::Result<JobStats> {
        let mut stats = JobStats::default();
        let mut tx = self.pool.begin().await?;
        let applied = offsets::lock(&mut tx, &self.group, &self.topics).await?;
        let fresh: Vec<&OwnedMessage> = batch
            .iter()
            .filter(|m| {
                let from = applied
                    .get(&(m.topic().to_owned(), m.partition()))
                    .copied()
                    .unwrap_or(0);
                m.offset() >= from
            })
            .collect();
        stats.duplicates += (batch.len() - fresh.len()) as u64;

        let mut sets = Vec::with_capacity(fresh.len());
        let mut in_batch = std::collections::HashSet::with_capacity(fresh.len());
        let mut rejected = Vec::new();
        for m in &fresh {
            match decode(m) {
                // A re-published event can sit in the same batch as its first copy.
                Ok(Decoded::Set { set, .. }) if !in_batch.insert(set.set_id) => {
                    stats.duplicates += 1
                }
                Ok(Decoded::Set { event_id, set }) => sets.push((event_id, set)),
                Ok(Decoded::Other) => stats.skipped += 1,
                Err(reason) => rejected.push((*m, reason)),
            }
        }
        if !rejected.is_empty() {
            self.dead_letters.send(&rejected).await?;
            stats.dead_lettered += rejected.len() as u64;
        }

        let new_ids = sink::insert_facts(&mut tx, &sets).await?;
        stats.duplicates += (sets.len() - new_ids.len()) as u64;
        stats.applied += new_ids.len() as u64;
        let new: std::collections::HashSet<_> = new_ids.into_iter().collect();
        let rows: Vec<SetRow> = sets
            .iter()
            .filter(|(_, s)| new.contains(&s.set_id))
            .map(|(_, s)| SetRow {
                set_id: s.set_id.to_string(),
                client_id: s.client_id.to_string(),
                exercise: s.exercise.clone(),
                reps: s.reps,
                weight_kg: s.weight_kg,
                rir: s.rir,
                performed_at_ms: s.performed_at.timestamp_millis(),
            })
            .collect();
        let results = tokio::task::spawn_blocking(move || summarize(&rows)).await??;
        sink::upsert_e1rm(&mut tx, &results.best_e1rm).await?;
        sink::add_volume(&mut tx, &results.weekly_volume).await?;

        let next: HashMap<PartitionKey, i64> = source::next_offsets(batch);
        offsets::save(&mut tx, &self.group, &next).await?;
        fault::point("analytics.before_commit");
        tx.commit().await?;
        Ok(stats)
    }
}
