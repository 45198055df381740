//! Property test of the analytics job: for random event sequences (sets logged, corrected,
//! deleted, out of order, late, re-published; exercise definitions arriving before, between
//! and after the sets that use them), cut into random batches, with jobs interrupted
//! mid-batch and restarted, the streamed tables equal a from-scratch recompute of the
//! same events in one batch, and the per-day volume, hard sets and records equal the
//! formulas applied here to the log as it finally stands.
//!
//! The job runs in this process against real PostgreSQL databases; the messages are built
//! here as Kafka would deliver them (topic, partition, offset), so that batch boundaries,
//! redeliveries and interruptions are chosen by the test rather than by the broker.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use fitsync_events::CloudEvent;
use fitsync_platform::stream::runner::BatchJob;
use fitsync_stream_jobs::ProgressAnalytics;
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use rdkafka::message::{OwnedMessage, Timestamp};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::harness::TestEnv;

const CASES: usize = 8;

/// One version of a set: what a `set_logged` (revision 1), `set_corrected` or
/// `set_deleted` carries.
#[derive(Clone)]
struct Version {
    revision: i32,
    deleted: bool,
    exercise: String,
    reps: i32,
    weight_kg: f64,
    rir: Option<i32>,
    failed: bool,
    performed_at: DateTime<Utc>,
    local_date: NaiveDate,
    workout: Option<Uuid>,
}

struct SetHistory {
    set_id: Uuid,
    client: Uuid,
    versions: Vec<Version>,
}

impl SetHistory {
    /// The set as it finally stands (the highest revision), if it still counts.
    fn last(&self) -> Option<&Version> {
        self.versions
            .iter()
            .max_by_key(|v| v.revision)
            .filter(|v| !v.deleted)
    }
}

fn set_event(set: &SetHistory, v: &Version) -> Value {
    let (event_type, data) = if v.deleted {
        (
            "fitsync.workout.set_deleted.v1",
            json!({"set_id": set.set_id, "client_id": set.client, "revision": v.revision}),
        )
    } else {
        let mut data = json!({
            "set_id": set.set_id, "client_id": set.client, "exercise": v.exercise,
            "reps": v.reps, "weight_kg": v.weight_kg, "rir": v.rir,
            "performed_at": v.performed_at, "workout_id": v.workout, "rpe": null,
            "failed": v.failed, "local_date": v.local_date,
        });
        if v.revision == 1 {
            ("fitsync.workout.set_logged.v2", data)
        } else {
            data["revision"] = json!(v.revision);
            ("fitsync.workout.set_corrected.v2", data)
        }
    };
    serde_json::to_value(CloudEvent::new(
        "/fitsync/training",
        event_type,
        set.client.to_string(),
        data,
    ))
    .unwrap()
}

fn exercise_event(id: Uuid, slug: &str, muscles: &[&str], revision: i64) -> Value {
    serde_json::to_value(CloudEvent::new(
        "/fitsync/training",
        "fitsync.exercise.defined.v1",
        "library".into(),
        json!({
            "exercise_id": id, "slug": slug, "name": slug, "owner_kind": null, "owner_id": null,
            "source_id": null, "force": "push", "level": "beginner", "mechanic": "compound",
            "equipment": "barbell", "category": "strength", "primary_muscles": muscles,
            "secondary_muscles": [], "aliases": [], "revision": revision,
        }),
    ))
    .unwrap()
}

/// A random version of a set of `client`, around `base`.
fn random_version(
    rng: &mut StdRng,
    revision: i32,
    exercises: &[String],
    base: NaiveDate,
) -> Version {
    let day = base + chrono::Duration::days(rng.gen_range(0..70));
    let performed_at = day
        .and_hms_opt(rng.gen_range(0..24), rng.gen_range(0..60), 0)
        .unwrap()
        .and_utc();
    Version {
        revision,
        deleted: false,
        exercise: exercises.choose(rng).unwrap().clone(),
        reps: rng.gen_range(1..13),
        // Multiples of 2.5 kg: every sum is exact, whatever the order.
        weight_kg: f64::from(rng.gen_range(8..80)) * 2.5,
        rir: [None, Some(0), Some(2), Some(3), Some(4), Some(6)]
            .choose(rng)
            .copied()
            .unwrap(),
        failed: rng.gen_bool(0.1),
        performed_at,
        // The client's zone puts the set on the UTC day, the one before or the one after.
        local_date: (performed_at + chrono::Duration::hours(rng.gen_range(-12..=13))).date_naive(),
        workout: None,
    }
}

/// Messages as Kafka would deliver them: offsets per (topic, partition) in log order.
struct Log {
    next: HashMap<(String, i32), i64>,
}

impl Log {
    fn message(&mut self, topic: &str, partition: i32, event: &Value) -> OwnedMessage {
        let offset = self.next.entry((topic.to_owned(), partition)).or_insert(0);
        let m = OwnedMessage::new(
            Some(serde_json::to_vec(event).unwrap()),
            None,
            topic.to_owned(),
            Timestamp::NotAvailable,
            partition,
            *offset,
            None,
        );
        *offset += 1;
        m
    }
}

/// What the analytics job writes, table by table, as queries of what must not depend on
/// when or in what batches it was written (no timestamps of the writing; a tombstone's
/// values are whatever was known when it came and count for nothing; floating sums
/// rounded).
pub const TABLES: [(&str, &str); 26] = [
    ("set_facts", "select set_id, client_id, revision, deleted, case when not deleted then json_build_array(exercise, reps, weight_kg, rir, performed_at, local_date, failed, workout_id) end as counted from set_facts"),
    ("exercise_e1rm", "select client_id, exercise, e1rm_kg, e1rm_brzycki_kg, set_id, achieved_at from exercise_e1rm"),
    ("weekly_volume", "select client_id, week_start, volume_kg, sets from weekly_volume"),
    ("daily_training", "select * from daily_training"),
    ("daily_e1rm", "select * from daily_e1rm"),
    ("session_volume", "select * from session_volume"),
    ("rep_records", "select * from rep_records"),
    ("muscle_weekly", "select * from muscle_weekly"),
    ("exercise_catalog", "select exercise_id, slug, name, primary_muscles, secondary_muscles, revision, null::uuid as client_id from exercise_catalog"),
    ("food_facts", "select entry_id, client_id, revision, deleted, case when not deleted then json_build_array(date, grams, kcal, protein_g, carbs_g, fat_g, fiber_g) end as counted from food_facts"),
    ("diet_targets", "select * from diet_targets"),
    ("daily_nutrition", "select client_id, date, round(kcal::numeric, 6) as kcal, round(protein_g::numeric, 6) as protein, entries, target_kcal, round(adherence_percent::numeric, 6) as adherence from daily_nutrition"),
    ("measurement_facts", "select measurement_id, client_id, revision, deleted, case when not deleted then json_build_array(metric, value, local_date, measured_at) end as counted from measurement_facts"),
    ("daily_metrics", "select client_id, metric, day, round(value::numeric, 9) as value, measurements from daily_metrics"),
    ("weight_trend", "select client_id, day, weight_kg, round(trend_kg::numeric, 9) as trend from weight_trend"),
    ("plan_facts", "select * from plan_facts"),
    ("planned_facts", "select * from planned_facts"),
    ("workout_facts", "select * from workout_facts"),
    ("booking_facts", "select * from booking_facts"),
    ("daily_adherence", "select * from daily_adherence"),
    ("member_facts", "select *, user_id as client_id from member_facts"),
    ("coaching_facts", "select * from coaching_facts"),
    ("session_facts", "select *, null::uuid as client_id from session_facts"),
    ("session_type_facts", "select *, null::uuid as client_id from session_type_facts"),
    ("availability_facts", "select *, null::uuid as client_id from availability_facts"),
    ("purchase_facts", "select * from purchase_facts"),
];

/// The tables named, rows of `clients` only (all rows: `None`), as sorted JSON text.
pub async fn tables(
    pool: &PgPool,
    names: &[&str],
    clients: Option<&[Uuid]>,
) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for (name, query) in TABLES.iter().filter(|(n, _)| names.contains(n)) {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "select row_to_json(t)::text from ({query}) t where $1::uuid[] is null or t.client_id = any($1) order by 1"
        ))
        .bind(clients)
        .fetch_all(pool)
        .await
        .unwrap();
        out.insert(*name, rows);
    }
    out
}

/// The tables the training events write.
const TRAINING_TABLES: [&str; 8] = [
    "set_facts",
    "exercise_e1rm",
    "weekly_volume",
    "daily_training",
    "daily_e1rm",
    "session_volume",
    "rep_records",
    "muscle_weekly",
];

/// A fresh progress database beside the test's, migrated.
pub async fn fresh_progress_db(env: &TestEnv, suffix: &str) -> PgPool {
    let name = format!("{}_{suffix}", env.settings.database.names.progress);
    let admin = env.pool("postgres");
    sqlx::query(&format!("create database \"{name}\""))
        .execute(&admin)
        .await
        .unwrap();
    let pool = env.pool(&name);
    fitsync_platform::db::migrate(
        &pool,
        &fitsync_progress::MIGRATIONS,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    pool
}

fn job(env: &TestEnv, pool: &PgPool) -> ProgressAnalytics {
    ProgressAnalytics::new(
        pool.clone(),
        env.settings.kafka.clone(),
        env.settings.jobs.clone(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_equals_a_batch_recompute_under_random_orders_batches_duplicates_and_restarts() {
    let env = TestEnv::new().await;
    let streamed = env.progress_db();
    let seed: u64 = std::env::var("FITSYNC_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let training = env.topic("fitsync.training");
    let library = env.topic("fitsync.exercises");
    let mut log = Log {
        next: HashMap::new(),
    };
    let mut job_now = job(&env, &streamed);
    let (mut interrupted, mut restarts, mut redelivered) = (0, 0, 0);

    for case in 0..CASES {
        let why = format!("seed {seed} (FITSYNC_PROPERTY_SEED), case {case}");
        let clients: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let exercises: Vec<String> = ["sq", "bp", "dl", "cx"]
            .iter()
            .map(|e| format!("{e}-{case}-{seed}"))
            .collect();
        let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
            + chrono::Duration::days(rng.gen_range(0..200));

        // Histories: logged, corrected 0–3 times, sometimes deleted, some in workouts.
        let mut sets = Vec::new();
        for _ in 0..rng.gen_range(20..50) {
            let client = *clients.choose(&mut rng).unwrap();
            let workout = rng.gen_bool(0.5).then(Uuid::now_v7);
            let mut versions = vec![Version {
                workout,
                ..random_version(&mut rng, 1, &exercises, base)
            }];
            for revision in 2..2 + rng.gen_range(0..4) {
                // A correction keeps the workout, moves the set now and then.
                let mut v = random_version(&mut rng, revision, &exercises, base);
                v.workout = workout;
                if rng.gen_bool(0.6) {
                    v.performed_at = versions[0].performed_at;
                    v.local_date = versions[0].local_date;
                }
                versions.push(v);
            }
            if rng.gen_bool(0.2) {
                let last = versions.last().unwrap().clone();
                versions.push(Version {
                    revision: last.revision + 1,
                    deleted: true,
                    ..last
                });
            }
            sets.push(SetHistory {
                set_id: Uuid::now_v7(),
                client,
                versions,
            });
        }

        // The log: every version and definition in a random order (a partition may hold a
        // correction before its set after a repartition; revisions decide), with copies of
        // some events re-published later.
        let mut events: Vec<(String, i32, Value)> = Vec::new();
        for s in &sets {
            let partition = i32::from(s.client.as_bytes()[15] % 3);
            for v in &s.versions {
                events.push((training.clone(), partition, set_event(s, v)));
            }
        }
        let (squat, bench, dead) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        events.push((
            library.clone(),
            0,
            exercise_event(squat, &exercises[0], &["quadriceps", "glutes"], 1),
        ));
        events.push((
            library.clone(),
            0,
            exercise_event(bench, &exercises[1], &["chest"], 1),
        ));
        events.push((
            library.clone(),
            0,
            exercise_event(dead, &exercises[2], &["hamstrings"], 1),
        ));
        // The deadlift's muscles change in its second revision.
        events.push((
            library.clone(),
            0,
            exercise_event(dead, &exercises[2], &["hamstrings", "glutes"], 2),
        ));
        events.shuffle(&mut rng);
        for _ in 0..events.len() / 8 {
            let i = rng.gen_range(0..events.len());
            let j = rng.gen_range(i..=events.len());
            let copy = events[i].clone();
            events.insert(j, copy);
        }
        let messages: Vec<OwnedMessage> = events
            .iter()
            .map(|(topic, partition, event)| log.message(topic, *partition, event))
            .collect();

        // Streamed: random batches; now and then a job interrupted mid-batch (its
        // transaction dropped), a restart, or a redelivery of what was already applied.
        let mut at = 0;
        while at < messages.len() {
            let end = (at + rng.gen_range(1..16)).min(messages.len());
            let batch = &messages[at..end];
            if rng.gen_bool(0.15) {
                let cut = Duration::from_micros(rng.gen_range(0..20_000));
                if tokio::time::timeout(cut, job_now.process(batch))
                    .await
                    .is_err()
                {
                    interrupted += 1;
                }
                // Whether or not it committed, the batch is delivered again.
            }
            if rng.gen_bool(0.15) {
                job_now = job(&env, &streamed);
                restarts += 1;
            }
            job_now.process(batch).await.unwrap();
            if at > 0 && rng.gen_bool(0.1) {
                // Kafka redelivers from an older offset: the stored offsets drop it.
                let from = rng.gen_range(at.saturating_sub(10)..at);
                job_now.process(&messages[from..end]).await.unwrap();
                redelivered += 1;
            }
            at = end;
        }

        // From scratch: the same events in one batch into an empty database.
        let batch_db = fresh_progress_db(&env, &format!("batch{case}")).await;
        let mut log_again = Log {
            next: HashMap::new(),
        };
        let all: Vec<OwnedMessage> = events
            .iter()
            .map(|(topic, partition, event)| log_again.message(topic, *partition, event))
            .collect();
        job(&env, &batch_db).process(&all).await.unwrap();

        let live = tables(&streamed, &TRAINING_TABLES, Some(&clients)).await;
        let batch = tables(&batch_db, &TRAINING_TABLES, Some(&clients)).await;
        for (table, rows) in &batch {
            let only_live: Vec<&String> =
                live[table].iter().filter(|r| !rows.contains(r)).collect();
            let only_batch: Vec<&String> =
                rows.iter().filter(|r| !live[table].contains(r)).collect();
            assert!(
                only_live.is_empty() && only_batch.is_empty(),
                "{table}: streamed only {only_live:#?}\nrecomputed only {only_batch:#?}\n{why}"
            );
            assert!(!rows.is_empty(), "{table} is empty; {why}");
        }
        batch_db.close().await;

        // And both equal the formulas over the log as it finally stands.
        let counted: Vec<(&SetHistory, &Version)> =
            sets.iter().filter_map(|s| Some((s, s.last()?))).collect();
        let mut days: BTreeMap<(Uuid, NaiveDate), (f64, i64, i64)> = BTreeMap::new();
        let mut best: BTreeMap<(Uuid, String, i32), f64> = BTreeMap::new();
        for (s, v) in &counted {
            let day = days.entry((s.client, v.local_date)).or_default();
            day.0 += v.weight_kg * f64::from(v.reps);
            day.1 += 1;
            day.2 += i64::from(v.failed || v.rir.is_none_or(|r| r <= 3));
            let b = best
                .entry((s.client, v.exercise.clone(), v.reps))
                .or_default();
            *b = b.max(v.weight_kg);
        }
        let got: BTreeMap<(Uuid, NaiveDate), (f64, i64, i64)> = sqlx::query_as::<_, (Uuid, NaiveDate, f64, i32, i32)>(
            "select client_id, day, volume_kg::float8, sets, hard_sets from daily_training where client_id = any($1)",
        )
        .bind(&clients)
        .fetch_all(&streamed)
        .await
        .unwrap()
        .into_iter()
        .map(|(c, d, v, s, h)| ((c, d), (v, i64::from(s), i64::from(h))))
        .collect();
        assert_eq!(got, days, "daily volume, sets, hard sets; {why}");
        let got: BTreeMap<(Uuid, String, i32), f64> = sqlx::query_as::<_, (Uuid, String, i32, f64)>(
            "select client_id, exercise, reps, weight_kg from rep_records where client_id = any($1)",
        )
        .bind(&clients)
        .fetch_all(&streamed)
        .await
        .unwrap()
        .into_iter()
        .map(|(c, x, r, w)| ((c, x, r), w))
        .collect();
        assert_eq!(got, best, "best weight per rep count; {why}");
        assert!(
            !days.is_empty(),
            "a case with nothing counted tests little; {why}"
        );
    }
    // The interruptions the test is about did happen.
    assert!(
        interrupted > 0 && restarts > 0 && redelivered > 0,
        "interruptions {interrupted}, restarts {restarts}, redeliveries {redelivered}; seed {seed}"
    );
    eprintln!("seed {seed}: {interrupted} interrupted batches, {restarts} restarts, {redelivered} redeliveries");
}
