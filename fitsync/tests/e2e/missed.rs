//! Missed planned workouts and drops in adherence, end to end: the analytics job's
//! day-close pass signals a planned workout whose local day (in the plan's time zone)
//! ended undone, once, with the client's 7-day adherence from its own results; the alerts
//! job alerts the trainer, and alerts a fall below the threshold when the adherence was at
//! or above it the day before. A pass that dies before committing signals nothing; its
//! successor signals it once. The same pass summarises a coached client's last week, for
//! the trainer and the client. Expected values are the formula applied here.

use chrono::{Datelike, Duration as Days, NaiveDate, Utc};
use fitsync::app::Target;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    alerts::coached,
    harness::{call, count, epley, eventually, trains_in_training, Account, TestApp, TestEnv},
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

/// The trainer's one-day program.
async fn one_day_template(app: &TestApp, trainer: &Account) -> Value {
    let (status, template) = call(
        app,
        trainer,
        Method::POST,
        "/api/programs",
        Some(one_day_program()),
    )
    .await;
    assert_eq!(status, 201, "{template}");
    template
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
    let template = one_day_template(&app, &trainer).await;

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

/// The weekly summary in `who`'s inbox, once there.
async fn summary_in(app: &TestApp, who: &Account) -> Value {
    eventually(60, "the weekly summary", || async {
        let (_, inbox) = call(app, who, Method::GET, "/api/notifications/inbox", None).await;
        inbox
            .as_array()?
            .iter()
            .find(|i| i["kind"] == "weekly_summary")
            .cloned()
    })
    .await
}

/// Publishes the relationship's start again with the time it began a month ago (as an
/// import would carry it): the analytics job keeps the earliest.
pub async fn began_long_ago(
    env: &TestEnv,
    relationship: uuid::Uuid,
    trainer: uuid::Uuid,
    client: uuid::Uuid,
) {
    let started = fitsync_events::CloudEvent::new(
        "/fitsync/users",
        fitsync_events::RELATIONSHIP_STARTED_V1,
        client.to_string(),
        fitsync_events::RelationshipChanged {
            relationship_id: relationship,
            trainer_id: trainer,
            client_id: client,
            at: Utc::now() - Days::days(30),
            version: 1,
        },
    );
    env.produce_raw(
        &env.topic("fitsync.users"),
        Some(client.to_string().as_bytes()),
        &serde_json::to_vec(&started).unwrap(),
    )
    .await;
}

/// The week whose summary is due now (its Monday) for a client in UTC: the last, from
/// Monday 06:00.
pub fn summarised_week() -> NaiveDate {
    let now = Utc::now();
    let today = now.date_naive();
    let monday = today - Days::days(i64::from(today.weekday().num_days_from_monday()));
    if now >= monday.and_hms_opt(6, 0, 0).unwrap().and_utc() {
        monday - Days::days(7)
    } else {
        monday - Days::days(14)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coached_clients_week_is_summarised_once_for_the_trainer_and_the_client() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let (ana, ben) = (app.register("client").await, app.register("client").await);
    let relationship = train(&app, &trainer, &ana).await;
    train(&app, &trainer, &ben).await;
    trains_in_training(&env, trainer.id, ana.id).await;
    for client in [&ana, &ben] {
        coached(&env, trainer.id, client.id).await;
    }
    let week = summarised_week();
    let noon = |day: NaiveDate| day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let set = |exercise: &str, reps: i32, kg: f64, day: NaiveDate| json!({"exercise": exercise, "reps": reps, "weight_kg": kg, "performed_at": noon(day)});
    // Ana: a squat before the week; in it, a lighter one on Tuesday, then on Thursday a
    // heavier one (a record) and a bench press lighter than in each of the two weeks
    // before (a plateau). A one-workout program on its Monday, not done. Ben trains in
    // the week too.
    let bench = "barbell-bench-press-medium-grip";
    let ana_sets = [
        set(bench, 5, 70.0, week - Days::days(10)),
        set(bench, 5, 65.0, week - Days::days(3)),
        set("back-squat", 5, 100.0, week - Days::days(3)),
        set("back-squat", 5, 90.0, week + Days::days(1)),
        set("back-squat", 5, 105.0, week + Days::days(3)),
        set(bench, 5, 60.0, week + Days::days(3)),
    ];
    for body in ana_sets
        .iter()
        .chain([&set("back-squat", 5, 80.0, week + Days::days(2))])
    {
        let who = if body["weight_kg"] == 80.0 {
            &ben
        } else {
            &ana
        };
        let r = app.log_set(who, body.clone()).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let template = one_day_template(&app, &trainer).await;
    let (status, body) = call(
        &app,
        &trainer,
        Method::POST,
        &format!(
            "/api/programs/{}/assignments",
            template["id"].as_str().unwrap()
        ),
        Some(json!({"client_id": ana.id, "start_date": week, "time_zone": "UTC"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let progress = env.progress_db();
    eventually(60, "the week's results", || async {
        let days = count(&progress, &format!(
            "select count(*) from daily_training where day >= '{week}' and day < '{}'", week + Days::days(7))).await;
        let planned = count(&progress, &format!(
            "select count(*) from daily_adherence where client_id = '{}' and day = '{week}' and planned = 1", ana.id)).await;
        (days == 3 && planned == 1).then_some(())
    })
    .await;
    // Both relationships began now, after the week ended: no summary. Ana's relationship
    // seen again with the time it began a month ago (as an import would carry it) makes
    // her week one her trainer coached.
    began_long_ago(&env, relationship, trainer.id, ana.id).await;

    // Two training days, three sets, 5 × (90 + 105 + 60) kg, one record (the squat's 105,
    // above its 100 before the week); none of one planned done.
    let volume = 5.0 * (90.0 + 105.0 + 60.0);
    let for_trainer = summary_in(&app, &trainer).await;
    let for_ana = summary_in(&app, &ana).await;
    for item in [&for_trainer, &for_ana] {
        let d = &item["data"];
        assert_eq!(d["client_id"], json!(ana.id));
        assert_eq!(d["week_start"], json!(week));
        assert_eq!(
            (d["training_days"].as_i64(), d["sets"].as_i64()),
            (Some(2), Some(3)),
            "{item}"
        );
        assert!(
            (d["volume_kg"].as_f64().unwrap() - volume).abs() < 1e-9,
            "{item}"
        );
        assert_eq!(
            (
                d["records"].as_i64(),
                d["done"].as_i64(),
                d["planned"].as_i64()
            ),
            (Some(1), Some(0), Some(1)),
            "{item}"
        );
    }
    assert!(
        for_ana["body"]
            .as_str()
            .unwrap()
            .starts_with("Your week from"),
        "{for_ana}"
    );
    assert!(
        for_trainer["body"]
            .as_str()
            .unwrap()
            .starts_with("Your client's week from"),
        "{for_trainer}"
    );
    // Ben's week was looked at in the same pass (his results and coaching were in before
    // Ana's relationship moved back): his trainer had not coached him through it.
    assert_eq!(
        count(
            &progress,
            &format!(
                "select count(*) from weekly_summaries where client_id = '{}'",
                ben.id
            )
        )
        .await,
        0
    );
    assert_eq!(
        count(&progress, "select count(*) from weekly_summaries").await,
        1
    );
    // The bench press: weekly bests e1RM(70 × 5), e1RM(65 × 5), e1RM(60 × 5) over three
    // weeks, a least-squares slope of (last − first) ÷ 2 (equally spaced): a plateau;
    // the squat, trained in two of the six weeks, is not judged.
    let slope = (epley(60.0, 5) - epley(70.0, 5)) / 2.0;
    let (_, inbox) = call(
        &app,
        &trainer,
        Method::GET,
        "/api/notifications/inbox",
        None,
    )
    .await;
    let items = inbox.as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .filter(|i| i["kind"] == "weekly_summary")
            .count(),
        1
    );
    let plateaus: Vec<&Value> = items.iter().filter(|i| i["kind"] == "plateau").collect();
    assert_eq!(plateaus.len(), 1, "{inbox}");
    let d = &plateaus[0]["data"];
    assert_eq!(
        (d["exercise"].as_str(), d["weeks"].as_i64()),
        (Some(bench), Some(3))
    );
    assert!(
        (d["slope_kg_per_week"].as_f64().unwrap() - slope).abs() < 1e-9,
        "{d}"
    );
    app.stop().await;
}
