//! The progress analytics job: set changes (logged, corrected, deleted) → Polars (e1RM,
//! weekly volume) → progressdb, effectively once; exercise definitions → the muscles of
//! each exercise; food entries and diet targets → what each client ate per day and the
//! adherence to that day's targets.
//!
//! Per micro-batch, in one PostgreSQL transaction: lock this group's offsets and drop
//! messages already applied; dead-letter what cannot be decoded (acknowledged by Kafka
//! before the commit); apply each set's newest change to the facts if its revision is
//! above the one held (a re-published event changes nothing); aggregate sets seen for the
//! first time incrementally with one Polars plan (they only add); recompute from the facts
//! every (client, exercise) and (client, week) a correction or deletion touched, and
//! replace those results; store the next offsets; commit. Kafka commits follow, advisory
//! only. The results are therefore always those of a fresh computation over the log as it
//! now stands.

mod decode;
mod nutrition;
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

use decode::{decode, Decoded, FoodChange, SetChange};
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
            consumer: ConsumerSpec::new(
                &kafka,
                &settings,
                JOB,
                &[Topic::Training, Topic::Exercises],
            )?,
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

        // The newest change of each set in the batch (a re-published event can sit in the
        // same batch as its first copy, a correction beside the set it corrects).
        let mut newest: HashMap<uuid::Uuid, (uuid::Uuid, SetChange)> = HashMap::new();
        let mut exercises: HashMap<uuid::Uuid, fitsync_events::ExerciseDefined> = HashMap::new();
        let mut foods: HashMap<uuid::Uuid, (uuid::Uuid, FoodChange)> = HashMap::new();
        let mut diets: HashMap<uuid::Uuid, fitsync_events::DietAssignmentChanged> = HashMap::new();
        let mut rejected = Vec::new();
        let mut times = HashMap::with_capacity(fresh.len());
        for m in &fresh {
            match decode(m) {
                Ok(Decoded::Set {
                    event_id,
                    time,
                    change,
                }) => {
                    let id = change.set.set_id;
                    match newest.get(&id) {
                        Some((_, held)) if held.revision >= change.revision => {
                            stats.duplicates += 1
                        }
                        Some(_) => {
                            stats.duplicates += 1;
                            times.insert(id, time);
                            newest.insert(id, (event_id, change));
                        }
                        None => {
                            times.insert(id, time);
                            newest.insert(id, (event_id, change));
                        }
                    }
                }
                Ok(Decoded::Exercise(e)) => {
                    if exercises
                        .get(&e.exercise_id)
                        .is_some_and(|held| held.revision >= e.revision)
                    {
                        stats.duplicates += 1;
                    } else {
                        exercises.insert(e.exercise_id, e);
                    }
                }
                Ok(Decoded::Food { event_id, change }) => {
                    if foods
                        .get(&change.entry_id)
                        .is_some_and(|(_, held)| held.revision >= change.revision)
                    {
                        stats.duplicates += 1;
                    } else {
                        foods.insert(change.entry_id, (event_id, change));
                    }
                }
                Ok(Decoded::DietTargets(a)) => {
                    if diets
                        .get(&a.assignment_id)
                        .is_some_and(|held| held.revision >= a.revision)
                    {
                        stats.duplicates += 1;
                    } else {
                        diets.insert(a.assignment_id, a);
                    }
                }
                Ok(Decoded::Other) => stats.skipped += 1,
                Err(reason) => rejected.push((*m, reason)),
            }
        }
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
            stats.dead_lettered += rejected.len() as u64;
        }

        let exercises: Vec<_> = exercises.into_values().collect();
        sink::upsert_exercises(&mut tx, &exercises).await?;
        stats.applied += exercises.len() as u64;

        let changes: Vec<(uuid::Uuid, SetChange)> = newest.into_values().collect();
        let applied = sink::apply_changes(&mut tx, &changes).await?;
        stats.duplicates += applied.stale as u64;
        stats.applied += applied.set_ids.len() as u64;

        // Sets seen for the first time only add: aggregated alone.
        let appended: Vec<SetRow> = applied.appended.iter().map(set_row).collect();
        let results = tokio::task::spawn_blocking(move || summarize(&appended)).await??;
        sink::upsert_e1rm(&mut tx, &results.best_e1rm).await?;
        sink::add_volume(&mut tx, &results.weekly_volume).await?;

        // What a correction or deletion touched is recomputed from the facts.
        if !applied.exercises.is_empty() || !applied.weeks.is_empty() {
            let by_exercise = sink::facts_of_exercises(&mut tx, &applied.exercises).await?;
            let by_week = sink::facts_of_weeks(&mut tx, &applied.weeks).await?;
            let (best, volume) = tokio::task::spawn_blocking(move || {
                Ok::<_, polars::error::PolarsError>((
                    summarize(&by_exercise)?.best_e1rm,
                    summarize(&by_week)?.weekly_volume,
                ))
            })
            .await??;
            sink::replace_results(&mut tx, &applied.exercises, &applied.weeks, &best, &volume)
                .await?;
        }

        // Nutrition: every day a food entry or a diet's targets touched, from the facts.
        let foods: Vec<(uuid::Uuid, FoodChange)> = foods.into_values().collect();
        let (mut days, stale) = nutrition::apply_food(&mut tx, &foods).await?;
        stats.duplicates += stale as u64;
        stats.applied += (foods.len() - stale) as u64;
        let diets: Vec<_> = diets.into_values().collect();
        days.extend(nutrition::apply_targets(&mut tx, &diets).await?);
        stats.applied += diets.len() as u64;
        if !days.is_empty() {
            let rows = nutrition::facts_of_days(&mut tx, &days).await?;
            let intake =
                tokio::task::spawn_blocking(move || fitsync_analytics::daily_intake(&rows))
                    .await??;
            nutrition::replace_days(&mut tx, &days, &intake).await?;
        }

        let next: HashMap<PartitionKey, i64> = source::next_offsets(batch);
        offsets::save(&mut tx, &self.consumer.group, &next).await?;
        fault::point("analytics.before_commit");
        tx.commit().await?;
        // Freshness: from the write that made each change to its results committed.
        let now = chrono::Utc::now();
        let ages: Vec<f64> = applied
            .set_ids
            .iter()
            .filter_map(|id| times.get(id))
            .map(|at| (now - *at).num_microseconds().unwrap_or(0) as f64 / 1e6)
            .collect();
        fitsync_platform::stream::stats::freshness(JOB, &ages);
        Ok(stats)
    }
}

fn set_row(s: &fitsync_events::SetLogged) -> SetRow {
    SetRow {
        set_id: s.set_id.to_string(),
        client_id: s.client_id.to_string(),
        exercise: s.exercise.clone(),
        reps: s.reps,
        weight_kg: s.weight_kg,
        rir: s.rir,
        performed_at_ms: s.performed_at.timestamp_millis(),
    }
}
