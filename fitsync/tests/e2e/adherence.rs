//! Adherence through the pipeline: a program's planned workouts (done, started and left
//! open, skipped) and 1:1 sessions (attended, missed, cancelled late) reach the 7/30/90-day
//! windows as the formula computed here gives; deleting a finished workout retracts it;
//! the trainer's at-risk list ranks their clients by the score's formula.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use fitsync::app::Target;
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{eventually, trains_in_training, Account, TestApp, TestEnv};
use crate::matrix::train;

async fn send(
    app: &TestApp,
    who: &Account,
    method: Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let response = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&who.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn ok(app: &TestApp, who: &Account, method: Method, path: &str, body: Value) -> Value {
    let (status, body) = send(app, who, method.clone(), path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {body}"
    );
    body
}

/// Adherence over the `days` days before `today`, from what the test did.
fn expected(
    today: NaiveDate,
    days: i64,
    planned: &[(NaiveDate, bool)],
    sessions: &[(NaiveDate, &str)],
) -> Value {
    let inside = |d: &NaiveDate| *d >= today - Duration::days(days) && *d < today;
    let p = planned.iter().filter(|(d, _)| inside(d)).count() as i64;
    let c = planned
        .iter()
        .filter(|(d, done)| inside(d) && *done)
        .count() as i64;
    let s = sessions.iter().filter(|(d, _)| inside(d)).count() as i64;
    let a = sessions
        .iter()
        .filter(|(d, o)| inside(d) && *o == "attended")
        .count() as i64;
    let n = sessions
        .iter()
        .filter(|(d, o)| inside(d) && *o == "no_show")
        .count() as i64;
    let pct = |x: i64, of: i64| {
        if of > 0 {
            json!(100.0 * x as f64 / of as f64)
        } else {
            Value::Null
        }
    };
    json!({"days": days, "planned": p, "completed": c, "workouts_percent": pct(c, p),
           "sessions": s, "attended": a, "no_shows": n, "sessions_percent": pct(a, s),
           "percent": pct(c + a, p + s)})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_workouts_and_sessions_reach_adherence_and_the_at_risk_ranking() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let steady = app.register("client").await;
    let trainer = app.register("trainer").await;
    let other = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    train(&app, &trainer, &steady).await;
    trains_in_training(&env, trainer.id, client.id).await;
    let today = Utc::now().date_naive();

    // Two weeks of a two-day program that began 14 days ago: four planned workouts.
    let template = ok(
        &app,
        &trainer,
        Method::POST,
        "/api/programs",
        crate::programs::program(2, 80.0),
    )
    .await;
    let assignment = ok(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/programs/{}/assignments", template["id"].as_str().unwrap()),
        json!({"client_id": client.id, "start_date": today - Duration::days(14), "time_zone": "UTC"}),
    )
    .await;
    let plan = ok(
        &app,
        &client,
        Method::GET,
        &format!(
            "/api/programs/assignments/{}",
            assignment["id"].as_str().unwrap()
        ),
        Value::Null,
    )
    .await;
    let mut planned: Vec<(NaiveDate, String)> = plan["planned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["date"].as_str().unwrap().parse().unwrap(),
                p["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    planned.sort();
    assert_eq!(planned.len(), 4, "{plan}");
    // The first and third are done; the second started and left open; the fourth skipped.
    let mut done = vec![false; 4];
    let mut finished = Vec::new();
    for (i, (day, id)) in planned.iter().enumerate().take(3) {
        let started = day.and_hms_opt(9, 0, 0).unwrap().and_utc();
        let w = ok(
            &app,
            &client,
            Method::POST,
            "/api/workouts",
            json!({"planned_workout_id": id, "started_at": started}),
        )
        .await;
        if i != 1 {
            ok(
                &app,
                &client,
                Method::PUT,
                &format!("/api/workouts/{}", w["id"].as_str().unwrap()),
                json!({"started_at": started, "finished_at": started + Duration::hours(1)}),
            )
            .await;
            done[i] = true;
            finished.push(w["id"].as_str().unwrap().to_owned());
        }
    }

    // 1:1s the trainer records: attended 3 days ago, missed 5 days ago, cancelled late 20
    // days ago (outside the 7-day window, inside the 30-day one).
    let personal = ok(&app, &trainer, Method::POST, "/api/sessions/types",
        json!({"name": "PT", "kind": "one_on_one", "duration_min": 60, "credits": 0, "cancel_window_hours": 24})).await;
    let sessions = [(3, "attended"), (5, "no_show"), (20, "late_cancelled")];
    for (back, outcome) in sessions {
        let starts_at = (today - Duration::days(back))
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_utc();
        eventually(60, "the schedule service to know the client", || async {
            let (status, _) = send(&app, &trainer, Method::POST, "/api/bookings/record",
                json!({"client_id": client.id, "session_type_id": personal["id"], "starts_at": starts_at, "outcome": outcome})).await;
            (status == 201).then_some(())
        })
        .await;
    }
    let sessions: Vec<(NaiveDate, &str)> = sessions
        .iter()
        .map(|(back, o)| (today - Duration::days(*back), *o))
        .collect();
    // The steady client trained today and has nothing planned.
    let (status, _) = send(
        &app,
        &steady,
        Method::POST,
        "/api/workouts/sets",
        json!({"exercise": "back-squat", "reps": 5, "weight_kg": 100}),
    )
    .await;
    assert_eq!(status, 201);

    let windows = |planned: &[(NaiveDate, bool)]| -> Vec<Value> {
        [7, 30, 90]
            .iter()
            .map(|d| expected(today, *d, planned, &sessions))
            .collect()
    };
    let flags: Vec<(NaiveDate, bool)> = planned.iter().map(|(d, _)| *d).zip(done.clone()).collect();
    let want = windows(&flags);
    let adherence_path = format!("/api/progress/{}/adherence", client.id);
    eventually(60, "adherence as the formula gives", || async {
        let (status, body) = send(&app, &trainer, Method::GET, &adherence_path, Value::Null).await;
        (status == 200 && body["windows"].as_array()? == &want).then_some(())
    })
    .await;

    // The at-risk list: the score's formula over the 30- and 7-day windows; the client
    // never logged a set (idle counts in full), missed one session.
    let part = |w: &Value| {
        let of = w["planned"].as_i64().unwrap() + w["sessions"].as_i64().unwrap();
        let done = w["completed"].as_i64().unwrap() + w["attended"].as_i64().unwrap();
        (of > 0).then(|| done as f64 / of as f64)
    };
    let (a7, a30) = (part(&want[0]), part(&want[1]));
    let score = 40.0 * (1.0 - a30.unwrap()) + 30.0 + 20.0 * 1.0 / 3.0;
    let ranked = eventually(60, "both clients on the at-risk list", || async {
        let (status, body) = send(
            &app,
            &trainer,
            Method::GET,
            &format!("/api/analytics/trainers/{}/at-risk", trainer.id),
            Value::Null,
        )
        .await;
        (status == 200
            && body["clients"].as_array()?.len() == 2
            && body["clients"][1]["days_since_training"] == 0)
            .then_some(body)
    })
    .await;
    let first = &ranked["clients"][0];
    assert_eq!(first["client_id"], json!(client.id), "{ranked}");
    assert!(
        (first["score"].as_f64().unwrap() - score).abs() < 1e-9,
        "{ranked}"
    );
    assert!((first["adherence_30_percent"].as_f64().unwrap() - 100.0 * a30.unwrap()).abs() < 1e-9);
    assert!((first["adherence_7_percent"].as_f64().unwrap() - 100.0 * a7.unwrap()).abs() < 1e-9);
    assert_eq!(
        first["reasons"],
        json!(["low_adherence", "inactive", "no_shows"])
    );
    assert_eq!(ranked["clients"][1]["client_id"], json!(steady.id));
    assert_eq!(ranked["clients"][1]["score"], json!(0.0));
    // Another trainer may not see it.
    let (status, _) = send(
        &app,
        &other,
        Method::GET,
        &format!("/api/analytics/trainers/{}/at-risk", trainer.id),
        Value::Null,
    )
    .await;
    assert_eq!(status, 403);

    // The first finished workout deleted: its planned workout is no longer done.
    ok(
        &app,
        &client,
        Method::DELETE,
        &format!("/api/workouts/{}", finished[0]),
        Value::Null,
    )
    .await;
    done[0] = false;
    let flags: Vec<(NaiveDate, bool)> = planned.iter().map(|(d, _)| *d).zip(done).collect();
    let want = windows(&flags);
    eventually(60, "the deleted workout retracted", || async {
        let (_, body) = send(&app, &client, Method::GET, &adherence_path, Value::Null).await;
        (body["windows"].as_array()? == &want).then_some(())
    })
    .await;
    // And the chart: monthly adherence over the 30 days before today.
    let (from, to) = (today - Duration::days(30), today - Duration::days(1));
    let (status, series) = send(
        &app,
        &client,
        Method::GET,
        &format!(
            "/api/progress/{}/series?metric=adherence&bucket=month&from={from}&to={to}",
            client.id
        ),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{series}");
    let month = |d: NaiveDate| d.with_day(1).unwrap();
    let mut by_month: std::collections::BTreeMap<NaiveDate, (f64, f64)> = Default::default();
    for (d, ok) in &flags {
        if *d >= from && *d <= to {
            let m = by_month.entry(month(*d)).or_default();
            m.0 += f64::from(u8::from(*ok));
            m.1 += 1.0;
        }
    }
    for (d, o) in &sessions {
        if *d >= from && *d <= to {
            let m = by_month.entry(month(*d)).or_default();
            m.0 += f64::from(u8::from(*o == "attended"));
            m.1 += 1.0;
        }
    }
    let want: Vec<Value> = by_month
        .iter()
        .map(|(m, (done, of))| json!({"start": m, "value": 100.0 * done / of}))
        .collect();
    assert_eq!(series["points"].as_array().unwrap(), &want, "{series}");
}
