//! Programs end to end: a trainer builds a program with progression, assigns it to a
//! client in their time zone, edits the template (the client's plan does not move), the
//! client trains, and the next session's loads follow the progression rules from what
//! the client actually did; plans are events; strangers see nothing.

use chrono::{Duration, NaiveDate, Utc};
use fitsync::Target;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    harness::{call, eventually, outbox_drained, trains_in_training, TestEnv},
    matrix::train,
};

/// A weekly program: Monday squats with double progression (and bench at 75 % of e1RM),
/// Thursday pulls by effort.
pub fn program(weeks: usize, squat_kg: f64) -> Value {
    let week = json!({"days": [
        {"offset": 0, "name": "Squat day", "slots": [
            {"exercise": "back-squat", "sets": 3, "reps_min": 5, "reps_max": 8,
             "load": {"type": "absolute", "kg": squat_kg}, "rest_secs": 180, "tempo": "30X0",
             "progression": {"increment_kg": 2.5, "deload_percent": 10, "deload_after_failures": 2, "target_rir": 1}},
            {"exercise": "barbell-bench-press-medium-grip", "sets": 3, "reps_min": 6, "reps_max": 8,
             "load": {"type": "percent_e1rm", "percent": 75}, "superset": "A"}
        ]},
        {"offset": 3, "name": "Pull day", "slots": [
            {"exercise": "rdl", "sets": 3, "reps_min": 8, "reps_max": 10, "load": {"type": "rir", "rir": 2}},
            {"exercise": "pullups", "sets": 4, "reps_min": 5, "reps_max": 10, "load": {"type": "rpe", "rpe": 8.5}}
        ]}
    ]});
    json!({"document": {"name": "12 weeks of strength", "description": "Squat twice as often as you think.",
                        "weeks": vec![week; weeks]}})
}

/// Offset of New York from UTC at local midnight of a date (hours behind), from the US
/// rules: daylight time from 2:00 on the second Sunday of March to 2:00 on the first
/// Sunday of November — so the midnight that starts the March Sunday is still standard
/// time, and the one that starts the November Sunday still daylight time.
fn new_york_behind(date: NaiveDate) -> i64 {
    let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let dst = (date > ymd(2026, 3, 8) && date <= ymd(2026, 11, 1))
        || (date > ymd(2027, 3, 14) && date <= ymd(2027, 11, 7));
    if dst {
        4
    } else {
        5
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_is_built_assigned_in_the_clients_time_zone_and_progresses_from_what_they_did() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    let stranger = app.register("client").await;
    let other_trainer = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    let training = env.training_db();
    trains_in_training(&env, trainer.id, client.id).await;

    // Bad documents: every error with its path, nothing saved.
    let mut bad = program(1, 100.0);
    bad["document"]["weeks"][0]["days"][0]["slots"][0]["reps_max"] = json!(3);
    bad["document"]["weeks"][0]["days"][1]["offset"] = json!(0);
    bad["document"]["weeks"][0]["days"][1]["slots"][0]["exercise"] = json!("moon-press");
    let (status, problem) = call(&app, &trainer, Method::POST, "/api/programs", Some(bad)).await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "weeks[0].days[0].slots[0].reps_max",
            "weeks[0].days[1].offset",
            "weeks[0].days[1].slots[0].exercise"
        ]
    );
    assert_eq!(
        call(
            &app,
            &client,
            Method::POST,
            "/api/programs",
            Some(program(1, 100.0))
        )
        .await
        .0,
        403
    );

    // Twelve weeks, saved with library slugs for the aliases it used.
    let (status, template) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/programs",
        Some(program(12, 100.0)),
    )
    .await;
    assert_eq!(status, 201, "{template}");
    let id = template["id"].as_str().unwrap().to_owned();
    assert_eq!(template["version"], 1);
    assert_eq!(
        template["document"]["weeks"][11]["days"][0]["slots"][0]["exercise"],
        "barbell-squat"
    );
    assert_eq!(
        template["document"]["weeks"][0]["days"][1]["slots"][0]["exercise"],
        "romanian-deadlift"
    );
    assert_eq!(
        call(
            &app,
            &other_trainer,
            Method::GET,
            &format!("/api/programs/{id}"),
            None
        )
        .await
        .0,
        404
    );

    // Assigned from five weeks ago, in New York: every Monday and Thursday of twelve
    // weeks, on the client's calendar, each starting at the client's midnight.
    let today_ny = (Utc::now() - Duration::hours(5)).date_naive();
    let start = today_ny - Duration::days(35);
    let assign =
        json!({"client_id": client.id, "start_date": start, "time_zone": "America/New_York"});
    let path = format!("/api/programs/{id}/assignments");
    assert_eq!(
        call(
            &app,
            &other_trainer,
            Method::POST,
            &path,
            Some(assign.clone())
        )
        .await
        .0,
        403
    );
    let mut bad_zone = assign.clone();
    bad_zone["time_zone"] = json!("Mars/Olympus");
    assert_eq!(
        call(&app, &trainer, Method::POST, &path, Some(bad_zone))
            .await
            .0,
        422
    );
    let (status, assignment) = call(&app, &trainer, Method::POST, &path, Some(assign)).await;
    assert_eq!(status, 201, "{assignment}");
    let assignment_id = assignment["id"].as_str().unwrap().to_owned();
    let planned = assignment["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 24);
    for (i, p) in planned.iter().enumerate() {
        let (week, thursday) = (i / 2, i % 2 == 1);
        let date = start + Duration::days(7 * week as i64 + if thursday { 3 } else { 0 });
        assert_eq!(p["date"], date.to_string(), "{p}");
        assert_eq!(
            (p["week"].as_u64(), p["day"].as_u64()),
            (Some(week as u64 + 1), Some(1 + u64::from(thursday)))
        );
        let midnight =
            date.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::hours(new_york_behind(date));
        assert_eq!(
            p["starts_at"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<Utc>>()
                .unwrap(),
            midnight,
            "{p}"
        );
    }

    // A new version of the template does not touch the client's plan.
    let (status, v2) = call(
        &app,
        &trainer,
        Method::PUT,
        &format!("/api/programs/{id}"),
        Some(program(4, 50.0)),
    )
    .await;
    assert_eq!((status, v2["version"].as_i64()), (200, Some(2)));
    assert_eq!(
        call(
            &app,
            &other_trainer,
            Method::PUT,
            &format!("/api/programs/{id}"),
            Some(program(4, 50.0))
        )
        .await
        .0,
        404
    );
    let a_path = format!("/api/programs/assignments/{assignment_id}");
    let (status, snapshot) = call(&app, &client, Method::GET, &a_path, None).await;
    assert_eq!(
        (status, snapshot["template_version"].as_i64()),
        (200, Some(1))
    );
    assert_eq!(snapshot["document"]["weeks"].as_array().unwrap().len(), 12);
    assert_eq!(
        snapshot["document"]["weeks"][0]["days"][0]["slots"][0]["load"]["kg"],
        100.0
    );
    assert_eq!(
        call(&app, &stranger, Method::GET, &a_path, None).await.0,
        404
    );
    assert_eq!(
        call(&app, &other_trainer, Method::GET, &a_path, None)
            .await
            .0,
        404
    );

    // The client trained five Mondays: met, met, short, missed, met; and benched.
    let monday = |k: i64| {
        (start + Duration::days(7 * k))
            .and_hms_opt(22, 30, 0)
            .unwrap()
            .and_utc()
    };
    let sessions: [(f64, i32, i32); 4] =
        [(100.0, 8, 1), (102.5, 8, 2), (105.0, 6, 0), (94.5, 8, 1)];
    for (k, (kg, reps, rir)) in [0, 1, 2, 4].into_iter().zip(sessions) {
        for _ in 0..3 {
            let set = json!({"exercise": "barbell-squat", "reps": reps, "weight_kg": kg, "rir": rir, "performed_at": monday(k)});
            assert_eq!(app.log_set(&client, set).await.status(), 201);
        }
    }
    let bench = json!({"exercise": "bench-press", "reps": 5, "weight_kg": 100, "rir": 0, "performed_at": monday(4)});
    assert_eq!(app.log_set(&client, bench).await.status(), 201);

    // Written out: 100 → met → 102.5 → met → 105 → short (1) → missed (2): deload 10 %
    // → 94.5 → met → 97. Bench: e1RM 100 · (1 + 5/30), 75 % of it to the quarter kilo.
    let want_squat = ((94.5f64 + 2.5) * 4.0).round() / 4.0;
    let want_bench = ((100.0 * (1.0 + 5.0 / 30.0) * 0.75) * 4.0f64).round() / 4.0;
    let (status, next) = call(&app, &client, Method::GET, &format!("{a_path}/next"), None).await;
    assert_eq!(status, 200, "{next}");
    assert_eq!(next["date"], (start + Duration::days(35)).to_string());
    assert_eq!(next["name"], "Squat day");
    assert_eq!(
        next["slots"][0]["prescribed_kg"].as_f64(),
        Some(want_squat),
        "{next}"
    );
    assert_eq!(
        next["slots"][1]["prescribed_kg"].as_f64(),
        Some(want_bench),
        "{next}"
    );
    assert_eq!(
        call(
            &app,
            &stranger,
            Method::GET,
            &format!("{a_path}/next"),
            None
        )
        .await
        .0,
        404
    );

    // Ending drops what was planned after today; the client cannot end it, nor end twice.
    assert_eq!(
        call(&app, &client, Method::POST, &format!("{a_path}/end"), None)
            .await
            .0,
        403
    );
    let (status, ended) = call(&app, &trainer, Method::POST, &format!("{a_path}/end"), None).await;
    assert_eq!(
        (status, ended["status"].as_str(), ended["revision"].as_i64()),
        (200, Some("ended"), Some(2))
    );
    let kept: Vec<&str> = ended["planned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["date"].as_str().unwrap())
        .collect();
    assert_eq!(kept.len(), 11, "{kept:?}");
    assert!(kept
        .iter()
        .all(|d| d.parse::<NaiveDate>().unwrap() <= today_ny));
    assert_eq!(
        call(&app, &trainer, Method::POST, &format!("{a_path}/end"), None)
            .await
            .0,
        409
    );

    // The plan's changes are events, keyed by the client, in order.
    outbox_drained(&training, 60, "the plan published").await;
    // Everything the outbox held is in Kafka; a reader may see the partitions in turn.
    let plans: Vec<Value> = eventually(30, "both plan events read", || async {
        let plans: Vec<Value> = env
            .read_topic(&env.topic("fitsync.training"), 1)
            .await
            .iter()
            .filter_map(|m| serde_json::from_slice::<Value>(rdkafka::Message::payload(m)?).ok())
            .filter(|e| e["type"] == "fitsync.program.plan_changed.v1")
            .collect();
        (plans.len() >= 2).then_some(plans)
    })
    .await;
    let shape: Vec<(i64, &str, usize)> = plans
        .iter()
        .map(|e| {
            (
                e["data"]["revision"].as_i64().unwrap(),
                e["data"]["status"].as_str().unwrap(),
                e["data"]["planned"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(shape, [(1, "active", 24), (2, "ended", 11)]);
    assert!(plans.iter().all(|e| e["subject"] == client.id.to_string()));

    // Cloning: the other trainer cannot (not theirs to see); the owner gets a private copy.
    assert_eq!(
        call(
            &app,
            &other_trainer,
            Method::POST,
            &format!("/api/programs/{id}/clone"),
            None
        )
        .await
        .0,
        404
    );
    let (status, copy) = call(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/programs/{id}/clone"),
        None,
    )
    .await;
    assert_eq!(
        (
            status,
            copy["version"].as_i64(),
            copy["document"]["weeks"].as_array().map(Vec::len)
        ),
        (201, Some(1), Some(4))
    );
    let (_, listed) = call(&app, &trainer, Method::GET, "/api/programs", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (_, none) = call(&app, &other_trainer, Method::GET, "/api/programs", None).await;
    assert_eq!(none, json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_program_resumes_moved_by_the_days_paused_and_a_new_start_replans_what_is_to_come()
{
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let trainer = app.register("trainer").await;
    let client = app.register("client").await;
    let other_trainer = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    trains_in_training(&env, trainer.id, client.id).await;
    let (_, template) = call(
        &app,
        &trainer,
        Method::POST,
        "/api/programs",
        Some(program(12, 80.0)),
    )
    .await;
    let today = Utc::now().date_naive();
    let assign = json!({"client_id": client.id, "start_date": today, "time_zone": "UTC"});
    let (status, a) = call(
        &app,
        &trainer,
        Method::POST,
        &format!(
            "/api/programs/{}/assignments",
            template["id"].as_str().unwrap()
        ),
        Some(assign),
    )
    .await;
    assert_eq!(status, 201);
    let id = a["id"].as_str().unwrap().to_owned();
    // (week, day) → date, from a start: day 1 on offset 0, day 2 on offset 3.
    let planned_from = |start: NaiveDate, shift: i64| -> Vec<(i64, i64, NaiveDate)> {
        (0..12)
            .flat_map(|w| [(w, 1, 0), (w, 2, 3)])
            .map(|(w, d, o)| (w + 1, d, start + Duration::days(7 * w + o + shift)))
            .collect()
    };
    let dates = |a: &Value| -> Vec<(i64, i64, NaiveDate)> {
        let mut v: Vec<_> = a["planned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["week"].as_i64().unwrap(),
                    p["day"].as_i64().unwrap(),
                    p["date"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(dates(&a), planned_from(today, 0));

    let status_path = format!("/api/programs/assignments/{id}/status");
    let pause = json!({"status": "paused"});
    let resume = json!({"status": "active"});
    for (who, want) in [(&client, 403), (&other_trainer, 404)] {
        assert_eq!(
            call(&app, who, Method::POST, &status_path, Some(pause.clone()))
                .await
                .0,
            want
        );
    }
    assert_eq!(
        call(
            &app,
            &trainer,
            Method::POST,
            &status_path,
            Some(resume.clone())
        )
        .await
        .0,
        409
    );
    // Paused: only today's workout stays planned.
    let (status, paused) = call(
        &app,
        &trainer,
        Method::POST,
        &status_path,
        Some(pause.clone()),
    )
    .await;
    assert_eq!((status, paused["status"].as_str()), (200, Some("paused")));
    assert_eq!(dates(&paused), planned_from(today, 0)[..1]);
    assert_eq!(
        call(&app, &trainer, Method::POST, &status_path, Some(pause))
            .await
            .0,
        409
    );

    // As if paused three days ago: resuming moves what is to come by three days.
    sqlx::query("update program_assignments set paused_on = paused_on - 3 where id = $1")
        .bind(id.parse::<uuid::Uuid>().unwrap())
        .execute(&env.training_db())
        .await
        .unwrap();
    let (status, resumed) = call(&app, &trainer, Method::POST, &status_path, Some(resume)).await;
    assert_eq!((status, resumed["status"].as_str()), (200, Some("active")));
    let mut want = planned_from(today, 0)[..1].to_vec();
    want.extend(planned_from(today, 3).into_iter().skip(1));
    want.sort();
    assert_eq!(dates(&resumed), want);

    // A new start a week out: today's workout stays, the rest follows the new start.
    let start_path = format!("/api/programs/assignments/{id}/start");
    let later = today + Duration::days(7);
    let (status, moved) = call(
        &app,
        &trainer,
        Method::PUT,
        &start_path,
        Some(json!({"start_date": later})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    let mut want = planned_from(today, 0)[..1].to_vec();
    want.extend(planned_from(later, 0).into_iter().skip(1));
    want.sort();
    assert_eq!(dates(&moved), want);
    let far = json!({"start_date": today + Duration::days(400)});
    assert_eq!(
        call(&app, &trainer, Method::PUT, &start_path, Some(far))
            .await
            .0,
        422
    );
    assert_eq!(
        call(
            &app,
            &client,
            Method::PUT,
            &start_path,
            Some(json!({"start_date": later}))
        )
        .await
        .0,
        403
    );

    // Each change is the plan as it now stands, in order.
    outbox_drained(&env.training_db(), 60, "the plans published").await;
    let plans: Vec<(String, i64, usize)> = env
        .read_topic(&env.topic("fitsync.training"), 5)
        .await
        .iter()
        .filter_map(|m| {
            let e: Value = serde_json::from_slice(rdkafka::Message::payload(m)?).ok()?;
            (e["type"] == "fitsync.program.plan_changed.v1").then(|| {
                (
                    e["data"]["status"].as_str().unwrap().to_owned(),
                    e["data"]["revision"].as_i64().unwrap(),
                    e["data"]["planned"].as_array().unwrap().len(),
                )
            })
        })
        .collect();
    assert_eq!(
        plans,
        [
            ("active".to_owned(), 1, 24),
            ("paused".to_owned(), 2, 1),
            ("active".to_owned(), 3, 24),
            ("active".to_owned(), 4, 24)
        ]
    );
}
