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

use std::collections::HashMap;

use fitsync_analytics::{summarize, SetRow};
use fitsync_events::Topic;
use fitsync_platform::{
    config::{JobSettings, KafkaSettings},
    fault,
};
use rdkafka::{message::OwnedMessage, Message};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use decode::{decode, Decoded};
use fitsync_platform::stream::{
    offsets::{self, PartitionKey},
    runner::{self, BatchJob},
    source::{self, KafkaSource},
    stats::JobStats,
    ConsumerSpec,
};

pub const JOB: &str = "analytics";

pub struct ProgressAnalytics {
    pool: PgPool,
    consumer: ConsumerSpec,
}

impl ProgressAnalytics {
    pub fn new(pool: PgPool, kafka: KafkaSettings, settings: JobSettings) -> anyhow::Result<Self> {
        Ok(Self {
            consumer: ConsumerSpec::new(&kafka, &settings, JOB, &[Topic::Training])?,
            pool,
        })
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let result = runner::run(&self, &shutdown).await;
        runner::drop_blocking(JOB, self).await;
        result
    }
}

impl BatchJob for ProgressAnalytics {
    const NAME: &'static str = JOB;

    fn spec(&self) -> &ConsumerSpec {
        &self.consumer
    }

    async fn subscribe(&self) -> anyhow::Result<KafkaSource> {
        self.consumer
            .subscribe(Some(offsets::load(&self.pool, &self.consumer.group).await?))
    }

    #[tracing::instrument(skip_all, fields(job = JOB, messages = batch.len()), err)]
    async fn process(&self, batch: &[OwnedMessage]) -> anyhow::Result<JobStats> {
        let mut stats = JobStats::default();
        let mut tx = self.pool.begin().await?;
        let applied = offsets::lock(&mut tx, &self.consumer.group, &self.consumer.topics).await?;
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
        let mut times = Vec::with_capacity(fresh.len());
        for m in &fresh {
            match decode(m) {
                // A re-published event can sit in the same batch as its first copy.
                Ok(Decoded::Set { set, .. }) if !in_batch.insert(set.set_id) => {
                    stats.duplicates += 1
                }
                Ok(Decoded::Set {
                    event_id,
                    time,
                    set,
                }) => {
                    times.push((set.set_id, time));
                    sets.push((event_id, set));
                }
                Ok(Decoded::Other) => stats.skipped += 1,
                Err(reason) => rejected.push((*m, reason)),
            }
        }
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
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
        offsets::save(&mut tx, &self.consumer.group, &next).await?;
        fault::point("analytics.before_commit");
        tx.commit().await?;
        // Freshness: from the write that created each new set to its results committed.
        let now = chrono::Utc::now();
        let ages: Vec<f64> = times
            .iter()
            .filter(|(id, _)| new.contains(id))
            .map(|(_, at)| (now - *at).num_microseconds().unwrap_or(0) as f64 / 1e6)
            .collect();
        fitsync_platform::stream::stats::freshness(JOB, &ages);
        Ok(stats)
    }
}
