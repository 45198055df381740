//! Missed planned workouts and drops in adherence, end to end: the analytics job's
//! day-close pass signals a planned workout whose local day (in the plan's time zone)
//! ended undone, once, with the client's 7-day adherence from its own results; the alerts
//! job alerts the trainer, and alerts a fall below the threshold when the adherence was at
//! or above it the day before. A pass that dies before committing signals nothing; its
//! successor signals it once. Expected values are the formula applied here.

use chrono::{Duration as Days, NaiveDate};
use fitsync::app::Target;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    alerts::coached,
    harness::{call, count, eventually, trains_in_training, Account, TestApp, TestEnv},
    matrix::train,
};

/// The plan's zone: 14 hours ahead of UTC, so its days are not UTC's.
const ZONE: chrono_tz::Tz = chrono_tz::Pacific::Kiritimati;

/// A one-week program with one workout, on its first day.
fn one_day_program() -> Value {
    json!({"document": {"name": "One day", "weeks": [{"days": [
        {"offset": 0, "name": "Full body", "slots": [
            {"exercise": "back-squat", "sets": 3, "reps_min": 5, "reps_max": 8,
             "load": {"type": "absolute", "kg": 60}}
        ]}
    ]}]}})
}

/// Assigns `template` to `client` from `start` (in `ZONE`); returns its planned workout.
async fn assign(
    app: &TestApp,
    trainer: &Account,
    client: &Account,
    template: &Value,
    start: NaiveDate,
) -> String {
    let (status, assignment) = call(
        app,
        trainer,
        Method::POST,
        &format!(
            "/api/programs/{}/assignments",
            template["id"].as_str().unwrap()
        ),
        Some(json!({"client_id": client.id, "start_date": start, "time_zone": ZONE.name()})),
    )
    .await;
    assert_eq!(status, 201, "{assignment}");
    let (status, plan) = call(
        app,
        client,
        Method::GET,
        &format!(
            "/api/programs/assignments/{}",
            assignment["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let planned = plan["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 1, "{plan}");
    assert_eq!(planned[0]["date"], json!(start));
    planned[0]["id"].as_str().unwrap().to_owned()
}

/// The trainer's inbox: (kind, day, 7-day adherence) of each alert, newest first.
async fn alerts(app: &TestApp, trainer: &Account) -> Vec<(String, String, Option<f64>)> {
    let (status, body) = call(app, trainer, Method::GET, "/api/notifications/inbox", None).await;
    assert_eq!(status, 200);
    body.as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_owned(),
                i["data"]["day"].as_str().unwrap_or_default().to_owned(),
                i["data"]["adherence_7"].as_f64(),
            )
        })
        .collect()
}

/// The `workout_missed` signals on the alerts topic (which holds no other here), once
/// `expected` arrived.
async fn signals(env: &TestEnv, expected: usize) -> Vec<Value> {
    env.read_topic(&env.topic("fitsync.alerts"), expected)
        .await
        .iter()
        .map(|m| serde_json::from_slice::<Value>(rdkafka::Message::payload(m).unwrap()).unwrap())
        .filter(|v| v["type"] == "fitsync.progress.workout_missed.v1")
        .map(|v| v["data"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_workout_and_a_fall_in_adherence_alert_the_trainer_once_across_a_crash() {
    let env = TestEnv::new().await;
    let app = env
        .start(&[
            Target::Users,
            Target::Training,
            Target::Progress,
            Target::Notifications,
            Target::Relay,
            Target::Projector,
            Target::Alerts,
        ])
        .await;
    let analytics = env.spawn_process("analytics", &[]);
    let client = app.register("client").await;
    let trainer = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    trains_in_training(&env, trainer.id, client.id).await;
    coached(&env, trainer.id, client.id).await;
    let today = chrono::Utc::now().with_timezone(&ZONE).date_naive();
    let (status, template) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/programs",
        Some(one_day_program()),
    )
    .await;
    assert_eq!(status, 201, "{template}");

    // Five days ago (too long ago to be news): done.
    let done_day = today - Days::days(5);
    let done = assign(&app, &trainer, &client, &template, done_day).await;
    let started = done_day.and_hms_opt(9, 0, 0).unwrap().and_utc();
    let (status, workout) = call(
        &app,
        &client,
        Method::POST,
        "/api/workouts",
        Some(json!({"planned_workout_id": done, "started_at": started})),
    )
    .await;
    assert_eq!(status, 201, "{workout}");
    let (status, _) = call(
        &app,
        &client,
        Method::PUT,
        &format!("/api/workouts/{}", workout["id"].as_str().unwrap()),
        Some(json!({"started_at": started, "finished_at": started + Days::hours(1)})),
    )
    .await;
    assert_eq!(status, 200);
    let progress = env.progress_db();
    eventually(60, "the done workout in the adherence results", || async {
        (count(&progress, &format!(
            "select count(*) from daily_adherence where client_id = '{}' and day = '{done_day}' and completed = 1",
            client.id)).await == 1).then_some(())
    })
    .await;

    // Yesterday, there: missed. The job dies between signalling it and committing: no
    // mark, and so no signal (they are one transaction).
    drop(analytics);
    let yesterday = today - Days::days(1);
    let missed = assign(&app, &trainer, &client, &template, yesterday).await;
    let dying = env.spawn_process("analytics", &[("FITSYNC_FAULT", "close.before_commit:1")]);
    crate::crash::aborted(dying).await;
    assert_eq!(
        count(&progress, "select count(*) from missed_workouts").await,
        0,
        "nothing committed"
    );

    // Its successor signals it: the missed workout, and adherence over the seven days to
    // yesterday (one done of two) below 70 % from the seven days before (one of one).
    let _analytics = env.spawn_process("analytics", &[]);
    let share = |done: f64, planned: f64| done / planned;
    let (now, before) = (share(1.0, 2.0), share(1.0, 1.0));
    assert!(now < 0.7 && before >= 0.7);
    let day = yesterday.to_string();
    let first = eventually(60, "the missed workout and the drop", || async {
        let a = alerts(&app, &trainer).await;
        (a.len() >= 2).then_some(a)
    })
    .await;
    let mut sorted = first.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        sorted,
        [
            ("adherence_drop".to_owned(), day.clone(), Some(now)),
            ("missed_workout".to_owned(), day.clone(), Some(now)),
        ]
    );

    // The day before yesterday, missed too: alerted, while the drop it also is (one of
    // two over the seven days to it, one of one before) stays within the seven-day
    // cooldown. The pass ran again; nothing of yesterday's came twice.
    let earlier_day = today - Days::days(2);
    let earlier = assign(&app, &trainer, &client, &template, earlier_day).await;
    let all = eventually(60, "the earlier missed workout", || async {
        let a = alerts(&app, &trainer).await;
        (a.len() >= 3).then_some(a)
    })
    .await;
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(
        all[0],
        (
            "missed_workout".to_owned(),
            earlier_day.to_string(),
            Some(share(1.0, 2.0))
        )
    );
    assert_eq!(all[1..], first[..]);
    let mut by_workout: Vec<(String, Option<f64>, Option<f64>)> = signals(&env, 2)
        .await
        .iter()
        .map(|s| {
            (
                s["planned_workout_id"].as_str().unwrap().to_owned(),
                s["adherence_7"].as_f64(),
                s["previous_adherence_7"].as_f64(),
            )
        })
        .collect();
    by_workout.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want = vec![
        (missed, Some(now), Some(before)),
        (earlier, Some(share(1.0, 2.0)), Some(share(1.0, 1.0))),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        by_workout, want,
        "one signal per missed workout; none for the done one"
    );
    assert!(!by_workout.iter().any(|s| s.0 == done));
    assert_eq!(
        count(&progress, "select count(*) from missed_workouts").await,
        2
    );
    app.stop().await;
}
