//! The progress analytics job: set changes (logged, corrected, deleted) → Polars (e1RM,
//! weekly volume) → progressdb, effectively once; exercise definitions → the muscles of
//! each exercise; food entries and diet targets → what each client ate per day and the
//! adherence to that day's targets; measurements, plans, workouts and bookings → body
//! metrics and adherence; gym memberships, relationships, sessions, session types, hours
//! and purchases → the facts the trainer and gym figures are computed from when read.
//!
//! Per micro-batch, in one PostgreSQL transaction: lock this group's offsets and drop
//! messages already applied; dead-letter what cannot be decoded (acknowledged by Kafka
//! before the commit); apply each set's newest change to the facts if its revision is
//! above the one held (a re-published event changes nothing); aggregate sets seen for the
//! first time incrementally with one Polars plan (they only add); recompute from the facts
//! every (client, exercise) and (client, week) a correction or deletion touched, and
//! replace those results; store the next offsets; commit. Kafka commits follow, advisory
//! only. The results are therefore always those of a fresh computation over the log as it
//! now stands. Beside the batches, a day-close pass (`close`) signals the planned workouts
//! whose day ended undone, and summarises each coached client's week (and its plateaus).

mod adherence;
pub mod backfill;
mod body;
mod business;
mod close;
mod decode;
mod nutrition;
mod signals;
mod sink;
mod training;

use std::collections::{HashMap, HashSet};

use fitsync_analytics::{sets_frame, summarize, summarize_frame, SetRow};
use fitsync_events::Topic;
use fitsync_platform::{
    config::{JobSettings, KafkaSettings},
    fault,
};
use polars::error::PolarsError;
use rdkafka::{message::OwnedMessage, Message};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use decode::{decode, Decoded, FoodChange, MeasurementChange, SetChange};
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
    /// Write the alerts job's signals (off for a backfill: it rebuilds results, it is
    /// not news).
    signals: bool,
}

impl ProgressAnalytics {
    pub fn new(pool: PgPool, kafka: KafkaSettings, settings: JobSettings) -> anyhow::Result<Self> {
        Ok(Self {
            consumer: ConsumerSpec::new(
                &kafka,
                &settings,
                JOB,
                &[
                    Topic::Training,
                    Topic::Exercises,
                    Topic::Progress,
                    Topic::Schedule,
                    Topic::Users,
                ],
            )?,
            pool,
            signals: true,
        })
    }

    /// The job without its signals for the alerts job (a backfill).
    pub fn without_signals(mut self) -> Self {
        self.signals = false;
        self
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // The day-close pass: missed workouts, weekly summaries, plateaus (signals only).
        let timers = shutdown.child_token();
        let close = self
            .signals
            .then(|| tokio::spawn(close::run(self.pool.clone(), timers.clone())));
        let result = runner::run(&self, &shutdown).await;
        timers.cancel();
        if let Some(close) = close {
            let _ = close.await;
        }
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
        let mut measurements: HashMap<uuid::Uuid, (uuid::Uuid, MeasurementChange)> = HashMap::new();
        let mut plans: HashMap<uuid::Uuid, (i32, fitsync_events::PlanChanged)> = HashMap::new();
        let mut workouts: HashMap<uuid::Uuid, (i32, fitsync_events::WorkoutChanged)> =
            HashMap::new();
        let mut bookings: HashMap<uuid::Uuid, (i32, fitsync_events::BookingChanged)> =
            HashMap::new();
        // What each booking went through in the batch (waitlisted, promoted), whichever
        // revision of it is applied.
        let mut booking_flags: HashMap<uuid::Uuid, (bool, bool)> = HashMap::new();
        let mut business = business::Changes::default();
        let mut sessions: HashMap<uuid::Uuid, (i32, fitsync_events::SessionChanged)> =
            HashMap::new();
        let mut hours: HashMap<uuid::Uuid, (i32, fitsync_events::AvailabilityChanged)> =
            HashMap::new();
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
                Ok(Decoded::Measurement { event_id, change }) => {
                    if measurements
                        .get(&change.measurement_id)
                        .is_some_and(|(_, held)| held.revision >= change.revision)
                    {
                        stats.duplicates += 1;
                    } else {
                        measurements.insert(change.measurement_id, (event_id, change));
                    }
                }
                Ok(Decoded::Plan(p)) => {
                    newest_by(&mut plans, p.assignment_id, p.revision, p, &mut stats)
                }
                Ok(Decoded::Workout(w)) => {
                    newest_by(&mut workouts, w.workout_id, w.revision, w, &mut stats)
                }
                Ok(Decoded::Booking(b)) => {
                    let flags = booking_flags.entry(b.booking_id).or_default();
                    flags.0 |= adherence::waitlisted(&b);
                    flags.1 |= b.change == "promoted";
                    newest_by(&mut bookings, b.booking_id, b.revision, b, &mut stats)
                }
                Ok(Decoded::Member(m, joined)) => business.members.push((m, joined)),
                Ok(Decoded::Coaching(r, started)) => business.coaching.push((r, started)),
                Ok(Decoded::Session(s)) => {
                    newest_by(&mut sessions, s.session_id, s.revision, s, &mut stats)
                }
                Ok(Decoded::SessionType(t)) => business.session_types.push(t),
                Ok(Decoded::Availability(a)) => {
                    newest_by(&mut hours, a.trainer_id, a.revision, a, &mut stats)
                }
                Ok(Decoded::Purchase(p)) => business.purchases.push(p),
                Ok(Decoded::Other) => stats.skipped += 1,
                Err(reason) => rejected.push((*m, reason)),
            }
        }
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
            stats.dead_lettered += rejected.len() as u64;
        }

        let exercises: Vec<_> = exercises.into_values().collect();
        let redefined = sink::upsert_exercises(&mut tx, &exercises).await?;
        stats.applied += exercises.len() as u64;

        let changes: Vec<(uuid::Uuid, SetChange)> = newest.into_values().collect();
        let applied = if changes.is_empty() {
            sink::Applied::default()
        } else {
            sink::apply_changes(&mut tx, &changes).await?
        };
        stats.duplicates += applied.stale as u64;
        stats.applied += applied.set_ids.len() as u64;

        // Sets seen for the first time only add: aggregated alone, every plan over one
        // frame in one call on the blocking pool.
        let mut improved = Vec::new();
        let mut loaded = Vec::new();
        if !applied.appended.is_empty() {
            let rows: Vec<SetRow> = applied.appended.iter().map(sink::set_row).collect();
            let muscles = training::muscles_of(&mut tx, &rows).await?;
            let (results, records, days, weeks) = tokio::task::spawn_blocking(move || {
                let frame = sets_frame(&rows)?;
                Ok::<_, PolarsError>((
                    summarize_frame(&frame)?,
                    fitsync_analytics::records(&frame)?,
                    fitsync_analytics::day_analytics(&frame)?,
                    fitsync_analytics::muscle_weeks(&frame, &muscles)?,
                ))
            })
            .await??;
            improved = sink::upsert_e1rm(&mut tx, &results.best_e1rm).await?;
            loaded = days
                .daily
                .iter()
                .map(|d| (sink::parse_uuid(&d.client_id), d.day))
                .collect();
            sink::add_volume(&mut tx, &results.weekly_volume).await?;
            training::merge_records(&mut tx, &records).await?;
            training::add_days(&mut tx, &days).await?;
            training::add_muscle_weeks(&mut tx, &weeks).await?;
        }

        // What a correction or deletion touched is recomputed from the facts.
        if !applied.exercises.is_empty() || !applied.weeks.is_empty() {
            let by_exercise = sink::facts_of_exercises(&mut tx, &applied.exercises).await?;
            let by_week = sink::facts_of_weeks(&mut tx, &applied.weeks).await?;
            let (best, volume, records) = tokio::task::spawn_blocking(move || {
                let records = fitsync_analytics::records(&sets_frame(&by_exercise)?)?;
                Ok::<_, PolarsError>((
                    summarize(&by_exercise)?.best_e1rm,
                    summarize(&by_week)?.weekly_volume,
                    records,
                ))
            })
            .await??;
            sink::replace_results(&mut tx, &applied.exercises, &applied.weeks, &best, &volume)
                .await?;
            training::replace_records(&mut tx, &applied.exercises, &records).await?;
        }

        // Per local day and week.
        self.recompute_training(&mut tx, &applied, &redefined)
            .await?;

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

        // Body measurements: every touched day's mean, and the weight trends it moved.
        let measurements: Vec<_> = measurements.into_values().collect();
        let (metric_days, stale, new_weights) = if measurements.is_empty() {
            Default::default()
        } else {
            body::apply(&mut tx, &measurements).await?
        };
        let mut weight_changes = Vec::new();
        stats.duplicates += stale as u64;
        stats.applied += (measurements.len() - stale) as u64;
        if !metric_days.is_empty() {
            let rows = body::facts_of(&mut tx, &metric_days).await?;
            let daily =
                tokio::task::spawn_blocking(move || fitsync_analytics::daily_metrics(&rows))
                    .await??;
            body::replace_days(&mut tx, &metric_days, &daily).await?;
            let weighed: HashSet<uuid::Uuid> = metric_days
                .iter()
                .filter(|(_, metric, _)| metric == "weight")
                .map(|(client, _, _)| *client)
                .collect();
            let weighed: Vec<uuid::Uuid> = weighed.into_iter().collect();
            let weights = body::daily_weights(&mut tx, &weighed).await?;
            let trends = weights
                .into_iter()
                .map(|(client, days)| (client, fitsync_analytics::weight_trend(&days)))
                .collect();
            body::replace_trends(&mut tx, &trends).await?;
            weight_changes = signals::weight_changes(&trends, &new_weights);
        }

        // Adherence: every (client, day) a plan, workout or booking touched.
        let plans: Vec<_> = plans.into_values().map(|(_, p)| p).collect();
        let workouts: Vec<_> = workouts.into_values().map(|(_, w)| w).collect();
        let bookings: Vec<_> = bookings.into_values().map(|(_, b)| b).collect();
        let changed = (plans.len() + workouts.len() + bookings.len()) as u64;
        let (mut days, p) = adherence::apply_plans(&mut tx, &plans).await?;
        let mut stale = p;
        if !workouts.is_empty() {
            let (w_days, w) = adherence::apply_workouts(&mut tx, &workouts).await?;
            days.extend(w_days);
            stale += w;
        }
        if !bookings.is_empty() {
            let (b_days, b) = adherence::apply_bookings(&mut tx, &bookings, &booking_flags).await?;
            days.extend(b_days);
            stale += b;
        }
        let stale = stale as u64;
        stats.duplicates += stale;
        stats.applied += changed - stale;
        if !days.is_empty() {
            let (planned, booked) = adherence::facts_of(&mut tx, &days).await?;
            let rows = tokio::task::spawn_blocking(move || {
                fitsync_analytics::daily_adherence(&planned, &booked)
            })
            .await??;
            adherence::replace_days(&mut tx, &days, &rows).await?;
        }

        // Trainer and gym facts.
        business.sessions = sessions.into_values().map(|(_, s)| s).collect();
        business.availability = hours.into_values().map(|(_, a)| a).collect();
        if business.len() > 0 {
            let stale = business::apply(&mut tx, &business).await?;
            stats.duplicates += stale as u64;
            stats.applied += (business.len() - stale) as u64;
        }

        // Signals for the alerts job, once the coaching facts of the batch are in.
        if self.signals {
            signals::emit(&mut tx, &improved, &loaded, &weight_changes).await?;
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

/// The job's compute path without its sink, for the benchmarks: decodes a batch and runs
/// the per-set plans (e1RM, weekly volume, records) and the per-day plans (load, hard
/// sets, the day's best e1RM, sessions) over the sets in it, as a batch of sets seen for
/// the first time costs before PostgreSQL. Returns the sets. CPU-bound: call it off the
/// async runtime.
pub fn compute(batch: &[OwnedMessage]) -> anyhow::Result<usize> {
    let rows: Vec<SetRow> = batch
        .iter()
        .filter_map(|m| match decode(m) {
            Ok(Decoded::Set { change, .. }) if !change.deleted => Some(sink::set_row(&change.set)),
            _ => None,
        })
        .collect();
    let frame = sets_frame(&rows)?;
    summarize_frame(&frame)?;
    fitsync_analytics::records(&frame)?;
    fitsync_analytics::day_analytics(&frame)?;
    Ok(rows.len())
}

/// Keeps the newest revision of each thing in a batch; an older or equal one is a
/// duplicate.
fn newest_by<T>(
    held: &mut HashMap<uuid::Uuid, (i32, T)>,
    id: uuid::Uuid,
    revision: i32,
    value: T,
    stats: &mut JobStats,
) {
    if held.get(&id).is_some_and(|(r, _)| *r >= revision) {
        stats.duplicates += 1;
    } else {
        held.insert(id, (revision, value));
    }
}

impl ProgressAnalytics {
    /// The per-day and per-week results of corrections (sets seen for the first time
    /// were added to their day and week in `process`): the days a correction or deletion
    /// touched, and the weeks of those days and of every set of a `redefined` exercise,
    /// are recomputed from the facts. (The workload is computed when read, from
    /// `daily_training`.)
    async fn recompute_training(
        &self,
        conn: &mut sqlx::PgConnection,
        applied: &sink::Applied,
        redefined: &[String],
    ) -> anyhow::Result<()> {
        let days = &applied.days;
        if !days.is_empty() {
            let sets = sink::facts_of_days(conn, days).await?;
            let out = tokio::task::spawn_blocking(move || {
                fitsync_analytics::day_analytics(&sets_frame(&sets)?)
            })
            .await??;
            training::replace_days(conn, days, &out).await?;
        }

        let mut weeks = training::weeks_of(days);
        weeks.extend(training::weeks_of_exercises(conn, redefined).await?);
        if !weeks.is_empty() {
            let sets = sink::facts_of_weeks(conn, &weeks).await?;
            let muscles = training::muscles_of(conn, &sets).await?;
            let rows = tokio::task::spawn_blocking(move || {
                fitsync_analytics::muscle_weeks(&sets_frame(&sets)?, &muscles)
            })
            .await??;
            training::replace_muscle_weeks(conn, &weeks, &rows).await?;
        }

        Ok(())
    }
}
