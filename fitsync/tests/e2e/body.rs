//! Body metrics through the whole pipeline: measurements recorded by the client and their
//! trainer reach the daily values and the weight trend (10 % smoothing, computed here),
//! a deleted weight retracts, goals measure against the trend; health records are read
//! only by the client, their trainer and admins, and every read by someone else is
//! audited on the change stream.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use fitsync::app::Target;
use rdkafka::Message;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{eventually, Account, TestApp, TestEnv};
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

/// The trend as The Hacker's Diet defines it, over (day, weight) in day order.
fn hackers_diet(days: &BTreeMap<NaiveDate, f64>) -> BTreeMap<NaiveDate, f64> {
    let mut trend: Option<f64> = None;
    days.iter()
        .map(|(day, w)| {
            let t = match trend {
                None => *w,
                Some(t) => t + 0.1 * (w - t),
            };
            trend = Some(t);
            (*day, t)
        })
        .collect()
}

/// Waits until the progress service's projection lets `trainer` act for `client`.
async fn trainer_projected(app: &TestApp, trainer: &Account, client: &Account) {
    eventually(60, "the relationship projected to progress", || async {
        let (status, _) = send(
            app,
            trainer,
            Method::GET,
            &format!("/api/metrics/{}/goals", client.id),
            Value::Null,
        )
        .await;
        (status == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_become_a_trend_a_goal_measures_against_and_a_deleted_weight_retracts() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let trainer = app.register("trainer").await;
    let stranger = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    trainer_projected(&app, &trainer, &client).await;

    // Every other morning for three weeks at 05:30 UTC (06:30 or 07:30 in Berlin: the
    // same local day) — today's a minute ago if that is earlier (no weigh-in from the
    // future; still today in Berlin). A weigh-in without a time follows: on the last
    // day as well, and the two count as their mean, unless Berlin's day has already
    // turned (from 22:00 or 23:00 UTC), when it is a day of its own.
    let today = Utc::now().date_naive();
    let mut weights: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
    let mut ids = Vec::new();
    for (i, back) in (0..=20).rev().step_by(2).enumerate() {
        let day = today - Duration::days(back);
        let kg = 84.0 - 0.15 * i as f64 + if i % 3 == 0 { 0.6 } else { -0.2 };
        let at = day
            .and_hms_opt(5, 30, 0)
            .unwrap()
            .and_utc()
            .min(Utc::now() - Duration::minutes(1));
        let (status, body) = send(
            &app,
            &client,
            Method::POST,
            &format!("/api/metrics/{}/measurements", client.id),
            json!({"metric": "weight", "value": kg, "measured_at": at, "time_zone": "Europe/Berlin"}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["local_date"], json!(day));
        assert_eq!(body["unit"], "kg");
        weights.entry(day).or_default().push(kg);
        ids.push((day, body["id"].as_str().unwrap().to_owned()));
    }
    let (status, _) = send(
        &app,
        &client,
        Method::POST,
        &format!("/api/metrics/{}/measurements", client.id),
        json!({"metric": "weight", "value": 82.0, "time_zone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(status, 201);
    let local_today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive();
    weights.entry(local_today).or_default().push(82.0);
    // The trainer measures the waist; a stranger may not.
    let (status, _) = send(
        &app,
        &trainer,
        Method::POST,
        &format!("/api/metrics/{}/measurements", client.id),
        json!({"metric": "waist", "value": 91.5}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(
        &app,
        &stranger,
        Method::POST,
        &format!("/api/metrics/{}/measurements", client.id),
        json!({"metric": "waist", "value": 60.0}),
    )
    .await;
    assert_eq!(status, 403);
    // Unknown metrics and impossible values are refused with the field named.
    for bad in [
        json!({"metric": "wingspan", "value": 1.0}),
        json!({"metric": "weight", "value": -1.0}),
        json!({"metric": "weight", "value": 80.0, "time_zone": "Mars/Olympus"}),
    ] {
        let (status, body) = send(
            &app,
            &client,
            Method::POST,
            &format!("/api/metrics/{}/measurements", client.id),
            bad.clone(),
        )
        .await;
        assert!(status == 422 || status == 400, "{bad}: {status} {body}");
    }

    let expect = |weights: &BTreeMap<NaiveDate, Vec<f64>>| {
        let means: BTreeMap<NaiveDate, f64> = weights
            .iter()
            .map(|(d, w)| (*d, w.iter().sum::<f64>() / w.len() as f64))
            .collect();
        hackers_diet(&means)
    };
    let progress = env.progress_db();
    let trend_now = |want: BTreeMap<NaiveDate, f64>| {
        let progress = progress.clone();
        async move {
            eventually(60, "the weight trend", || async {
                let rows: Vec<(NaiveDate, f64)> = sqlx::query_as(
                    "select day, trend_kg from weight_trend where client_id = $1 order by day",
                )
                .bind(client.id)
                .fetch_all(&progress)
                .await
                .ok()?;
                (rows.len() == want.len()
                    && rows
                        .iter()
                        .zip(&want)
                        .all(|((d, t), (wd, wt))| d == wd && (t - wt).abs() < 1e-9))
                .then_some(rows)
            })
            .await
        }
    };
    let want = expect(&weights);
    trend_now(want.clone()).await;

    // The weekly chart: each week's point is the trend on its last weighed day.
    let from = today - Duration::days(30);
    let (status, series) = send(
        &app,
        &trainer,
        Method::GET,
        &format!(
            "/api/progress/{}/series?metric=weight_trend&bucket=week&from={from}&to={local_today}",
            client.id
        ),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{series}");
    let mut weekly: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for (day, t) in &want {
        let monday = *day
            - Duration::days(i64::from(
                chrono::Datelike::weekday(day).num_days_from_monday(),
            ));
        weekly.insert(monday, *t); // the last day of the week wins: days are in order
    }
    let points: Vec<(NaiveDate, f64)> = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap().parse().unwrap(),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(points.len(), weekly.len(), "{series}");
    for ((d, v), (wd, wv)) in points.iter().zip(&weekly) {
        assert_eq!(d, wd);
        assert!((v - wv).abs() < 1e-9);
    }
    // The waist, a point once the trainer's measurement is through.
    let waist_path = format!(
        "/api/progress/{}/series?metric=body&body_metric=waist&bucket=day&from={from}&to={local_today}",
        client.id
    );
    let waist = eventually(60, "the waist measured", || async {
        let (_, body) = send(&app, &client, Method::GET, &waist_path, Value::Null).await;
        (!body["points"].as_array()?.is_empty()).then_some(body)
    })
    .await;
    assert_eq!(waist["unit"], "cm");
    assert_eq!(waist["points"][0]["value"], json!(91.5));

    // A goal of 80 kg in eight weeks: the trend, its weekly change and the rate needed.
    let by = local_today + Duration::days(56);
    let (status, goal) = send(
        &app,
        &client,
        Method::POST,
        &format!("/api/metrics/{}/goals", client.id),
        json!({"kind": "weight", "target_kg": 80.0, "by": by}),
    )
    .await;
    assert_eq!(status, 201, "{goal}");
    let (last_day, last) = want.iter().next_back().map(|(d, t)| (*d, *t)).unwrap();
    let week_before = want
        .range(..=last_day - Duration::days(7))
        .next_back()
        .map(|(_, t)| *t)
        .unwrap();
    let p = &goal["progress"];
    assert!(
        (p["current_kg"].as_f64().unwrap() - last).abs() < 1e-9,
        "{goal}"
    );
    assert!((p["weekly_rate_kg"].as_f64().unwrap() - (last - week_before)).abs() < 1e-9);
    let required = (80.0 - last) / ((by - last_day).num_days() as f64 / 7.0);
    assert!((p["required_weekly_rate_kg"].as_f64().unwrap() - required).abs() < 1e-9);
    assert_eq!(p["achieved"], false);

    // A lift goal names the library's slug (an alias is refused: sets are counted under
    // the slug); its progress is the best e1RM, 100 kg for a single of 100 kg.
    let (status, body) = send(
        &app,
        &client,
        Method::POST,
        &format!("/api/metrics/{}/goals", client.id),
        json!({"kind": "lift", "exercise": "back-squat", "target_kg": 120.0, "by": by}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let logged = app
        .log_set(
            &client,
            json!({"exercise": "back-squat", "reps": 1, "weight_kg": 100.0}),
        )
        .await;
    assert_eq!(logged.status(), 201);
    for (target, achieved) in [(120.0, false), (95.0, true)] {
        let (status, goal) = send(
            &app,
            &client,
            Method::POST,
            &format!("/api/metrics/{}/goals", client.id),
            json!({"kind": "lift", "exercise": "barbell-squat", "target_kg": target, "by": by}),
        )
        .await;
        assert_eq!(status, 201, "{goal}");
        let id = goal["id"].as_str().unwrap().to_owned();
        eventually(60, "the lift goal's progress", || async {
            let (_, goals) = send(
                &app,
                &client,
                Method::GET,
                &format!("/api/metrics/{}/goals", client.id),
                Value::Null,
            )
            .await;
            let g = goals
                .as_array()?
                .iter()
                .find(|g| g["id"] == json!(id))?
                .clone();
            (g["progress"]["current_kg"] == json!(100.0)
                && g["progress"]["achieved"] == json!(achieved)
                && g["progress"]["on_track"] == json!(achieved))
            .then_some(())
        })
        .await;
    }

    // A weight deleted: its day leaves the trend and every later day moves.
    let (day, id) = ids[3].clone();
    let (status, _) = send(
        &app,
        &trainer,
        Method::DELETE,
        &format!("/api/metrics/measurements/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    weights.remove(&day);
    trend_now(expect(&weights)).await;
    // Gone for everyone; a stranger learns nothing of another's measurement.
    let (_, id) = ids[4].clone();
    let (status, _) = send(
        &app,
        &stranger,
        Method::DELETE,
        &format!("/api/metrics/measurements/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let listed: Vec<Value> = send(
        &app,
        &client,
        Method::GET,
        &format!("/api/metrics/{}/measurements?metric=weight", client.id),
        Value::Null,
    )
    .await
    .1
    .as_array()
    .unwrap()
    .clone();
    assert_eq!(listed.len(), weights.values().map(Vec::len).sum::<usize>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_records_are_read_by_the_client_their_trainer_and_admins_and_each_read_by_another_is_audited(
) {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let trainer = app.register("trainer").await;
    let other = app.register("trainer").await;
    let other_client = app.register("client").await;
    let admin = app.admin(&env).await;
    train(&app, &trainer, &client).await;
    trainer_projected(&app, &trainer, &client).await;

    let path = format!("/api/metrics/{}/health-records", client.id);
    let (status, first) = send(
        &app,
        &client,
        Method::POST,
        &path,
        json!({"kind": "injury", "title": "Left knee: ACL reconstruction", "started_on": "2025-03-01"}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = send(
        &app,
        &trainer,
        Method::POST,
        &path,
        json!({"kind": "condition", "title": "Asthma", "details": "Inhaler before intervals"}),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    let (status, body) = send(
        &app,
        &client,
        Method::POST,
        &path,
        json!({"kind": "injury", "title": "bad\u{0}title"}),
    )
    .await;
    assert!(status == 422 || status == 400, "{status} {body}");

    for (who, want) in [
        (&client, 200),
        (&trainer, 200),
        (&admin, 200),
        (&other, 403),
        (&other_client, 403),
    ] {
        let (status, body) = send(&app, who, Method::GET, &path, Value::Null).await;
        assert_eq!(status, want, "{body}");
        if want == 200 {
            assert_eq!(body.as_array().unwrap().len(), 2);
        }
    }

    // Exactly the trainer's and the admin's reads are on the stream; the client's own and
    // the refused ones are not.
    let topic = env.topic("fitsync.progress");
    let audits = eventually(60, "two audit records", || async {
        let readers: Vec<(String, String)> = env
            .read_topic(&topic, 1)
            .await
            .iter()
            .filter_map(|m| {
                let e: Value = serde_json::from_slice(m.payload()?).ok()?;
                (e["type"] == "fitsync.audit.health_data_read.v1").then(|| {
                    (
                        e["data"]["reader_id"].as_str().unwrap().to_owned(),
                        e["data"]["client_id"].as_str().unwrap().to_owned(),
                    )
                })
            })
            .collect();
        (readers.len() >= 2).then_some(readers)
    })
    .await;
    let mut readers: Vec<String> = audits.iter().map(|(r, _)| r.clone()).collect();
    readers.sort();
    let mut want = vec![trainer.id.to_string(), admin.id.to_string()];
    want.sort();
    assert_eq!(readers, want);
    assert!(audits.iter().all(|(_, c)| *c == client.id.to_string()));

    // Deleting: a stranger finds nothing; the trainer and the client may.
    let record = |v: &Value| v["id"].as_str().unwrap().to_owned();
    for (who, id, want) in [
        (&other, record(&first), 404),
        (&other_client, record(&first), 404),
        (&trainer, record(&first), 204),
        (&client, record(&second), 204),
        (&client, Uuid::new_v4().to_string(), 404),
    ] {
        let (status, _) = send(
            &app,
            who,
            Method::DELETE,
            &format!("/api/metrics/health-records/{id}"),
            Value::Null,
        )
        .await;
        assert_eq!(status, want);
    }
    let (_, left) = send(&app, &client, Method::GET, &path, Value::Null).await;
    assert_eq!(left, json!([]));
}
