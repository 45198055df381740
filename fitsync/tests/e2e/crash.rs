//! Processes killed at the worst moments, then restarted: results are exactly what an
//! uninterrupted run gives.

use std::{collections::BTreeMap, os::unix::process::ExitStatusExt, time::Duration};

use chrono::{DateTime, Datelike, Utc};
use fitsync::Target;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rdkafka::Message;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{epley, eventually, outbox_drained, Account, Process, TestApp, TestEnv};

/// Best e1RM per (client, exercise); volume in hundredths of a kg and sets per (client, week).
type Tables = (
    BTreeMap<(Uuid, String), f64>,
    BTreeMap<(Uuid, String), (i64, i32)>,
);

struct Logged {
    client: Uuid,
    exercise: &'static str,
    reps: i32,
    kg: f64,
    rir: i32,
    at: DateTime<Utc>,
}

/// Logs `n` random sets for `clients` over the last six weeks.
async fn log_random(app: &TestApp, clients: &[Account], n: usize, seed: u64) -> Vec<Logged> {
    let mut rng = StdRng::seed_from_u64(seed);
    let exercises = [
        "barbell-squat",
        "barbell-bench-press-medium-grip",
        "barbell-deadlift",
    ];
    let mut out = Vec::new();
    for _ in 0..n {
        let who = &clients[rng.gen_range(0..clients.len())];
        let set = Logged {
            client: who.id,
            exercise: exercises[rng.gen_range(0..3)],
            reps: rng.gen_range(1..=12),
            kg: f64::from(rng.gen_range(80..=480)) * 0.25,
            rir: rng.gen_range(0..=3),
            at: Utc::now() - chrono::Duration::minutes(rng.gen_range(60..60 * 24 * 42)),
        };
        let body = json!({"exercise": set.exercise, "reps": set.reps, "weight_kg": set.kg, "rir": set.rir, "performed_at": set.at});
        assert_eq!(app.log_set(who, body).await.status(), 201);
        out.push(set);
    }
    out
}

/// What the tables must hold, computed here without Polars: best Epley e1RM per
/// (client, exercise) and volume in hundredths of a kilogram per (client, ISO week).
fn expected(sets: &[Logged]) -> Tables {
    let mut best = BTreeMap::new();
    let mut volume = BTreeMap::new();
    for s in sets {
        let e = epley(s.kg, s.reps + s.rir);
        let entry = best.entry((s.client, s.exercise.to_owned())).or_insert(e);
        *entry = f64::max(*entry, e);
        let monday =
            s.at.date_naive() - chrono::Days::new(u64::from(s.at.weekday().num_days_from_monday()));
        let v = volume
            .entry((s.client, monday.to_string()))
            .or_insert((0i64, 0i32));
        v.0 += (s.kg * 100.0).round() as i64 * i64::from(s.reps);
        v.1 += 1;
    }
    (best, volume)
}

async fn actual(env: &TestEnv) -> Tables {
    let db = env.progress_db();
    let best: Vec<(Uuid, String, f64)> =
        sqlx::query_as("select client_id, exercise, e1rm_kg from exercise_e1rm")
            .fetch_all(&db)
            .await
            .unwrap();
    let volume: Vec<(Uuid, String, i64, i32)> = sqlx::query_as(
        "select client_id, week_start::text, (volume_kg * 100)::bigint, sets from weekly_volume",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    (
        best.into_iter().map(|(c, e, v)| ((c, e), v)).collect(),
        volume
            .into_iter()
            .map(|(c, w, v, s)| ((c, w), (v, s)))
            .collect(),
    )
}

async fn counted(env: &TestEnv) -> i64 {
    sqlx::query_scalar("select count(*) from set_facts")
        .fetch_one(&env.progress_db())
        .await
        .expect("set_facts counted")
}

fn assert_same(actual: &Tables, sets: &[Logged]) {
    let (best, volume) = expected(sets);
    assert_eq!(
        actual.1, volume,
        "weekly volume differs from an uninterrupted count"
    );
    assert_eq!(actual.0.len(), best.len());
    for (key, e) in &best {
        assert!(
            (actual.0[key] - e).abs() < 1e-9,
            "{key:?}: {} vs {e}",
            actual.0[key]
        );
    }
}

/// Waits for a child that is meant to abort itself at a fault point.
pub async fn aborted(mut child: Process) {
    let status = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("the process never reached its fault point");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert_eq!(
        status.signal(),
        Some(6),
        "expected SIGABRT at the fault point, got {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_killed_mid_batch_restarts_to_the_exact_result() {
    let env = TestEnv::new().await;
    // API and relay here; the analytics job as its own process, killed and restarted.
    let app = env
        .start(&[Target::Users, Target::Training, Target::Relay])
        .await;
    let clients = [
        app.register("client").await,
        app.register("client").await,
        app.register("client").await,
    ];
    // The exercise library (on its topic since the test began) is learnt first, so that
    // the batches the crash lands among are sets.
    let mut warm_up = env.spawn_process("analytics", &[]);
    let progress = env.progress_db();
    eventually(120, "the exercise library learnt", || async {
        let n: i64 = sqlx::query_scalar("select count(*) from exercise_catalog")
            .fetch_one(&progress)
            .await
            .ok()?;
        (n == 873).then_some(())
    })
    .await;
    warm_up.kill().unwrap();
    warm_up.wait().unwrap();
    drop(warm_up);

    let sets = log_random(&app, &clients, 300, 11).await;
    outbox_drained(&env.training_db(), 60, "the relay to drain the outbox").await;

    // Dies after writing its fifth batch's results, before that transaction commits (the
    // first batches may hold other topics' events, but 300 sets take at least eight).
    let job = env.spawn_process(
        "analytics",
        &[
            ("FITSYNC_FAULT", "analytics.before_commit:5"),
            ("FITSYNC__JOBS__MAX_BATCH", "40"),
        ],
    );
    aborted(job).await;
    let after_crash = counted(&env).await;
    assert!(
        after_crash > 0 && after_crash < 300,
        "the crash left a partial count ({after_crash})"
    );

    let mut job = env.spawn_process("analytics", &[("FITSYNC__JOBS__MAX_BATCH", "40")]);
    eventually(120, "all 300 sets counted", || async {
        (counted(&env).await == 300).then_some(())
    })
    .await;
    assert_same(&actual(&env).await, &sets);
    job.kill().unwrap();
    job.wait().unwrap();
    drop(job);

    // A restart replays nothing: once a new set on every partition is counted (the
    // signal that the restarted job has read each of them to its end), the tables are
    // the old ones plus those sets, and the job saw no message twice.
    let (_job, job) = env.spawn_app("analytics", &[]).await;
    let mut all = sets;
    all.extend(markers(&env, &app, &clients, 300).await);
    eventually(120, "the markers counted", || async {
        (counted(&env).await == all.len() as i64).then_some(())
    })
    .await;
    assert_same(&actual(&env).await, &all);
    let metrics = job
        .metrics_with(
            r#"fitsync_job_events_total{job="analytics",outcome="applied"}"#,
            30,
        )
        .await;
    assert!(
        !metrics.contains(r#"outcome="duplicate""#),
        "the restarted job re-read messages it had applied:\n{metrics}"
    );
    app.stop().await;
}

/// Logs one more set on every partition that holds clients' events, and returns them:
/// once they are counted, the job has consumed each of those partitions past all that
/// came before (a partition is read in order).
async fn markers(env: &TestEnv, app: &TestApp, clients: &[Account], logged: usize) -> Vec<Logged> {
    let messages = env.read_topic(&env.topic("fitsync.training"), logged).await;
    let mut first_client_of: BTreeMap<i32, Uuid> = BTreeMap::new();
    for m in &messages {
        let key: Uuid = std::str::from_utf8(m.key().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        first_client_of.entry(m.partition()).or_insert(key);
    }
    let mut out = Vec::new();
    for client in first_client_of.values() {
        let who = clients.iter().find(|c| c.id == *client).unwrap();
        let set = Logged {
            client: who.id,
            exercise: "barbell-deadlift",
            reps: 3,
            kg: 150.0,
            rir: 1,
            at: Utc::now() - chrono::Duration::minutes(30),
        };
        let body = json!({"exercise": set.exercise, "reps": set.reps, "weight_kg": set.kg, "rir": set.rir, "performed_at": set.at});
        assert_eq!(app.log_set(who, body).await.status(), 201);
        out.push(set);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_after_publishing_counts_nothing_twice() {
    let env = TestEnv::new().await;
    let app = env
        .start(&[
            Target::Users,
            Target::Training,
            Target::Progress,
            Target::Analytics,
        ])
        .await;
    let clients = [app.register("client").await, app.register("client").await];
    let sets = log_random(&app, &clients, 120, 12).await;

    // Publishes the first batch, then dies before deleting it from the outbox.
    let relay = env.spawn_process(
        "relay",
        &[("FITSYNC_FAULT", "relay.training.before_delete:1")],
    );
    aborted(relay).await;
    let mut relay = env.spawn_process("relay", &[]);
    eventually(120, "all 120 sets counted", || async {
        (counted(&env).await == 120).then_some(())
    })
    .await;

    // The first batch is in Kafka twice, and yet counted once.
    let published = env.read_topic(&env.topic("fitsync.training"), 121).await;
    assert!(
        published.len() > 120,
        "the crash re-published ({} messages)",
        published.len()
    );
    // Counted once: after a new set on every partition is counted too (each partition
    // read past its copies), the tables are exactly an uninterrupted count.
    let mut all = sets;
    all.extend(markers(&env, &app, &clients, published.len()).await);
    eventually(120, "the markers counted", || async {
        (counted(&env).await == all.len() as i64).then_some(())
    })
    .await;
    assert_same(&actual(&env).await, &all);
    relay.kill().unwrap();
    relay.wait().unwrap();
    app.stop().await;
}
