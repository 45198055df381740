//! `fitsync backfill` rebuilds every analytics table from the start of the topics into a
//! database of its own; interrupted and run again, it goes on; the rebuilt tables equal
//! the live job's.

use std::process::Stdio;

use chrono::Utc;
use fitsync::app::Target;
use reqwest::Method;
use serde_json::{json, Value};

use crate::bookings::{buy, env_with_gateway};
use crate::harness::{eventually, outbox_drained, trains_in_training, Account, TestApp, TestEnv};
use crate::matrix::train;
use crate::properties::{fresh_progress_db, tables, TABLES};
use crate::schedule::{every_day, join_gym, open_gym, projected, session_type, set_hours};

async fn ok(app: &TestApp, who: &Account, method: Method, path: &str, body: Value) -> Value {
    let response = app
        .http
        .request(method.clone(), app.url(path))
        .bearer_auth(&who.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_rebuilds_what_the_live_job_built_and_an_interrupted_one_goes_on() {
    let env = env_with_gateway(TestEnv::new().await);
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let trainer = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    trains_in_training(&env, trainer.id, client.id).await;
    let now = Utc::now();

    // A bit of everything the job reads: sets (corrected, deleted), a program and a
    // finished workout, a food entry, weights (one deleted), a recorded session.
    let mut sets = Vec::new();
    let exercises = [
        "back-squat",
        "barbell-bench-press-medium-grip",
        "barbell-deadlift",
    ];
    for i in 0..24i64 {
        let exercise = exercises[i as usize % 3];
        let set = ok(
            &app,
            &client,
            Method::POST,
            "/api/workouts/sets",
            json!({
            "exercise": exercise,
            "reps": 3 + i % 6, "weight_kg": 60.0 + 2.5 * i as f64, "rir": i % 4,
            "performed_at": now - chrono::Duration::days(40 - i)}),
        )
        .await;
        sets.push(set["id"].as_str().unwrap().to_owned());
    }
    ok(&app, &client, Method::PUT, &format!("/api/workouts/sets/{}", sets[3]),
        json!({"exercise": "back-squat", "reps": 5, "weight_kg": 150.0, "performed_at": now - chrono::Duration::days(2)})).await;
    ok(
        &app,
        &client,
        Method::DELETE,
        &format!("/api/workouts/sets/{}", sets[7]),
        Value::Null,
    )
    .await;
    let template = ok(
        &app,
        &trainer,
        Method::POST,
        "/api/programs",
        crate::programs::program(2, 80.0),
    )
    .await;
    let assignment = ok(&app, &trainer, Method::POST,
        &format!("/api/programs/{}/assignments", template["id"].as_str().unwrap()),
        json!({"client_id": client.id, "start_date": (now - chrono::Duration::days(10)).date_naive(), "time_zone": "UTC"})).await;
    let planned = assignment["planned"][0]["id"].clone();
    let started = now - chrono::Duration::days(10);
    let workout = ok(
        &app,
        &client,
        Method::POST,
        "/api/workouts",
        json!({"planned_workout_id": planned, "started_at": started}),
    )
    .await;
    ok(
        &app,
        &client,
        Method::PUT,
        &format!("/api/workouts/{}", workout["id"].as_str().unwrap()),
        json!({"started_at": started, "finished_at": started + chrono::Duration::hours(1)}),
    )
    .await;
    ok(&app, &client, Method::POST, "/api/diets/log",
        json!({"food": "Apple", "grams": 150, "per_100g": {"kcal": 52, "protein_g": 0.3, "carbs_g": 13.8, "fat_g": 0.2, "fiber_g": 2.4}})).await;
    let mut weights = Vec::new();
    for back in 0..6 {
        let w = ok(
            &app,
            &client,
            Method::POST,
            &format!("/api/metrics/{}/measurements", client.id),
            json!({"metric": "weight", "value": 80.0 - 0.2 * f64::from(back),
                   "measured_at": now - chrono::Duration::days(i64::from(back))}),
        )
        .await;
        weights.push(w["id"].as_str().unwrap().to_owned());
    }
    ok(
        &app,
        &client,
        Method::DELETE,
        &format!("/api/metrics/measurements/{}", weights[2]),
        Value::Null,
    )
    .await;
    let personal = ok(&app, &trainer, Method::POST, "/api/sessions/types",
        json!({"name": "PT", "kind": "one_on_one", "duration_min": 60, "credits": 0, "cancel_window_hours": 24})).await;
    let starts_at = (now - chrono::Duration::days(3))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    eventually(60, "the session recorded", || async {
        let r = app.http.post(app.url("/api/bookings/record")).bearer_auth(&trainer.token)
            .json(&json!({"client_id": client.id, "session_type_id": personal["id"], "starts_at": starts_at, "outcome": "attended"}))
            .send().await.ok()?;
        (r.status() == 201).then_some(())
    })
    .await;
    // A gym the client and the trainer belong to, the trainer's hours, a class the
    // client queues for and gets, a package the client buys.
    let (owner, gym) = open_gym(&app, "Backfill Gym").await;
    join_gym(&app, &owner, &gym, &client, "client").await;
    join_gym(&app, &owner, &gym, &trainer, "trainer").await;
    let gym_id: uuid::Uuid = gym.parse().unwrap();
    projected(&env, "gym", gym_id, client.id).await;
    projected(&env, "gym", gym_id, trainer.id).await;
    set_hours(
        &app,
        &trainer,
        trainer.id,
        json!({"time_zone": "Europe/Paris", "weekly": every_day("07:00", "21:00")}),
    )
    .await;
    let class_type = session_type(&app, &owner,
        json!({"name": "Duo", "kind": "group", "duration_min": 45, "capacity": 1, "cancel_window_hours": 1})).await;
    let class_at = (now + chrono::Duration::days(2))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    let class = ok(
        &app,
        &owner,
        Method::POST,
        "/api/sessions",
        json!({"session_type_id": class_type, "trainer_id": trainer.id, "starts_at": class_at}),
    )
    .await;
    let other = app.register("client").await;
    join_gym(&app, &owner, &gym, &other, "client").await;
    projected(&env, "gym", gym_id, other.id).await;
    let first = ok(
        &app,
        &other,
        Method::POST,
        "/api/bookings",
        json!({"session_id": class[0]["id"]}),
    )
    .await;
    ok(
        &app,
        &client,
        Method::POST,
        "/api/bookings",
        json!({"session_id": class[0]["id"]}),
    )
    .await;
    ok(
        &app,
        &other,
        Method::POST,
        &format!("/api/bookings/{}/cancel", first["id"].as_str().unwrap()),
        Value::Null,
    )
    .await;
    let package = ok(&app, &owner, Method::POST, "/api/packages",
        json!({"name": "Five", "sessions": 5, "validity_days": 30, "price_cents": 5000, "currency": "EUR"})).await;
    buy(&app, &client, package["id"].as_str().unwrap(), "paid").await;
    for db in [
        env.training_db(),
        env.progress_db(),
        env.schedule_db(),
        env.users_db(),
    ] {
        outbox_drained(&db, 60, "every change published").await;
    }

    // Interrupted after its third batch (of one message each) …
    let rebuilt = fresh_progress_db(&env, "rebuilt").await;
    let database = format!("{}_rebuilt", env.settings.database.names.progress);
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let signal = stop.clone();
    let mut batches = 0;
    tokio::select! {
        done = fitsync_stream_jobs::analytics::backfill::run(
            rebuilt.clone(),
            env.settings.kafka.clone(),
            env.settings.jobs.clone(),
            1,
            move |_| {
                batches += 1;
                if batches == 4 {
                    signal.notify_one();
                }
            },
        ) => panic!("the first backfill was to be interrupted: {done:?}"),
        () = stop.notified() => {}
    }
    let applied: i64 = sqlx::query_scalar("select count(*) from consumer_offsets")
        .fetch_one(&rebuilt)
        .await
        .unwrap();
    assert!(
        applied > 0,
        "the interrupted backfill had applied some batches"
    );

    // … and run again as the command, with plain log lines (not a terminal).
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_fitsync"))
        .args(["backfill", "--database", &database, "--batch", "50"])
        .envs(env.child_env())
        .env("FITSYNC__TELEMETRY__LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("\"message\":\"backfilling\"") && log.contains("backfill complete"),
        "{log}"
    );
    assert!(
        log.contains("\"rate\"") && log.contains("\"eta_secs\""),
        "{log}"
    );

    // Every table the live job writes equals the rebuilt one.
    let names: Vec<&str> = TABLES.iter().map(|(n, _)| *n).collect();
    let live_db = env.progress_db();
    let rebuilt_tables = tables(&rebuilt, &names, None).await;
    for (table, rows) in &rebuilt_tables {
        assert!(
            !rows.is_empty() || *table == "diet_targets",
            "{table} was rebuilt empty"
        );
    }
    eventually(60, "the live tables to equal the rebuilt ones", || async {
        (tables(&live_db, &names, None).await == rebuilt_tables).then_some(())
    })
    .await;
}
