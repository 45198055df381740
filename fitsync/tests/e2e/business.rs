//! Trainer and gym analytics through the pipeline: a gym with a trainer and three clients,
//! 1:1s attended and missed, a class that waitlists and promotes, a package sold, a set
//! logged. The gym's KPIs, bookings by hour, cohorts, revenue and series, and the
//! trainer's KPIs, equal what the test computes from what it did; each is refused to
//! everyone but its readers.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use fitsync::Target;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    bookings::{buy, env_with_gateway},
    harness::{call, eventually, Account, TestApp, TestEnv},
    matrix::train,
    schedule::{every_day, join_gym, open_gym, projected, session_type, set_hours},
};

async fn ok(
    app: &TestApp,
    who: &Account,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (status, body) = call(app, who, method.clone(), path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {body}"
    );
    body
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap()
}

fn months_between(from: NaiveDate, to: NaiveDate) -> i32 {
    (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gyms_and_a_trainers_kpis_are_what_happened_and_only_their_readers_see_them() {
    let env = env_with_gateway(TestEnv::new().await);
    let app = env.start(&[Target::All]).await;
    let (owner, gym) = open_gym(&app, "KPI Gym").await;
    let (other_owner, _) = open_gym(&app, "Other Gym").await;
    let trainer = app.register("trainer").await;
    let other_trainer = app.register("trainer").await;
    let admin = app.admin(&env).await;
    join_gym(&app, &owner, &gym, &trainer, "trainer").await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let c = app.register("client").await;
        join_gym(&app, &owner, &gym, &c, "client").await;
        clients.push(c);
    }
    let (a, b, c) = (&clients[0], &clients[1], &clients[2]);
    train(&app, &trainer, a).await;
    train(&app, &trainer, b).await;
    let gym_id: uuid::Uuid = gym.parse().unwrap();
    for who in [a, b, c, &trainer] {
        projected(&env, "gym", gym_id, who.id).await;
    }
    projected(&env, "trainer", trainer.id, a.id).await;
    projected(&env, "trainer", trainer.id, b.id).await;
    let today = Utc::now().date_naive();
    let (from, to) = (today - Duration::days(29), today + Duration::days(7));

    // The trainer works 06:00-22:00 UTC every day.
    set_hours(
        &app,
        &trainer,
        trainer.id,
        json!({"time_zone": "UTC", "weekly": every_day("06:00", "22:00")}),
    )
    .await;
    let pt = session_type(
        &app,
        &trainer,
        json!({"name": "PT", "kind": "one_on_one", "duration_min": 60, "credits": 0, "cancel_window_hours": 1}),
    )
    .await;
    // 1:1s the trainer records: (client, days back, hour, outcome).
    let recorded = [
        (a, 3, 10, "attended"),
        (a, 5, 10, "no_show"),
        (b, 2, 14, "attended"),
    ];
    for (who, back, hour, outcome) in recorded {
        let starts_at = (today - Duration::days(back))
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc();
        eventually(60, "the schedule service to know the client", || async {
            let (status, _) = call(&app, &trainer, Method::POST, "/api/bookings/record",
                Some(json!({"client_id": who.id, "session_type_id": pt, "starts_at": starts_at, "outcome": outcome}))).await;
            (status == 201).then_some(())
        })
        .await;
    }
    // The gym's class of one place, in two days at 10:00: a books, c queues, a cancels
    // and c gets the place.
    let class_type = session_type(
        &app,
        &owner,
        json!({"name": "Small group", "kind": "group", "duration_min": 45, "capacity": 1, "cancel_window_hours": 1}),
    )
    .await;
    let class_at = (today + Duration::days(2))
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    let classes = ok(
        &app,
        &owner,
        Method::POST,
        "/api/sessions",
        Some(
            json!({"session_type_id": class_type, "trainer_id": trainer.id, "starts_at": class_at}),
        ),
    )
    .await;
    let class = classes[0]["id"].as_str().unwrap().to_owned();
    let first = ok(
        &app,
        a,
        Method::POST,
        "/api/bookings",
        Some(json!({"session_id": class})),
    )
    .await;
    let queued = ok(
        &app,
        c,
        Method::POST,
        "/api/bookings",
        Some(json!({"session_id": class})),
    )
    .await;
    assert_eq!(queued["status"], "waitlisted", "{queued}");
    ok(
        &app,
        a,
        Method::POST,
        &format!("/api/bookings/{}/cancel", first["id"].as_str().unwrap()),
        None,
    )
    .await;
    // The gym sells b a package.
    let package = ok(&app, &owner, Method::POST, "/api/packages",
        Some(json!({"name": "Ten classes", "sessions": 10, "validity_days": 60, "price_cents": 9900, "currency": "EUR"}))).await;
    buy(&app, b, package["id"].as_str().unwrap(), "paid").await;
    // a trains today.
    let logged = app
        .log_set(
            a,
            json!({"exercise": "back-squat", "reps": 5, "weight_kg": 100}),
        )
        .await;
    assert_eq!(logged.status(), 201);

    // What that makes, computed here. Places taken: the three 1:1s and c's.
    let mut taken: Vec<(NaiveDate, u32, &str)> = recorded
        .iter()
        .map(|(_, back, hour, outcome)| (today - Duration::days(*back), *hour, *outcome))
        .collect();
    taken.push((class_at.date_naive(), 10, "booked"));
    let attended = taken.iter().filter(|t| t.2 == "attended").count() as i64;
    let no_shows = taken.iter().filter(|t| t.2 == "no_show").count() as i64;
    let booked_minutes = 3 * 60 + 45;
    let available_minutes = 16 * 60 * ((to - from).num_days() + 1);
    // Active: a (a set today, attended 3 days ago), b (attended 2 days ago); counted in
    // the 7 and 30 days up to `to` or today, whichever is earlier (today).
    let active_days: Vec<(usize, NaiveDate)> = vec![
        (0, today),
        (0, today - Duration::days(3)),
        (1, today - Duration::days(2)),
    ];
    let active_within = |days: i64| {
        let mut who: Vec<usize> = active_days
            .iter()
            .filter(|(_, d)| *d > to.min(today) - Duration::days(days) && *d <= to.min(today))
            .map(|(w, _)| *w)
            .collect();
        who.sort();
        who.dedup();
        who.len() as i64
    };
    let figures = json!({
        "members": clients.len(), "active_7": active_within(7), "active_30": active_within(30),
        "signups": clients.len(),
        "bookings": taken.len(), "attended": attended, "no_shows": no_shows,
        "no_show_rate": no_shows as f64 / (attended + no_shows) as f64,
        "waitlisted": 1, "promoted": 1, "waitlist_conversion": 1.0,
        "booked_minutes": booked_minutes, "available_minutes": available_minutes,
        "utilisation": booked_minutes as f64 / available_minutes as f64,
    });
    let mut hours: BTreeMap<(u32, u32), i64> = BTreeMap::new();
    for (day, hour, _) in &taken {
        *hours
            .entry((day.weekday().number_from_monday(), *hour))
            .or_default() += 1;
    }
    let by_hour: Vec<Value> = hours
        .iter()
        .map(|((weekday, hour), n)| json!({"weekday": weekday, "hour": hour, "bookings": n}))
        .collect();
    let cohort = first_of_month(today);
    let cohorts: Vec<Value> = (0..=months_between(cohort, to))
        .map(|k| {
            let month = cohort + chrono::Months::new(k as u32);
            let mut who: Vec<usize> = active_days
                .iter()
                .filter(|(_, d)| first_of_month(*d) == month)
                .map(|(w, _)| *w)
                .collect();
            who.sort();
            who.dedup();
            json!({"cohort": cohort, "month_offset": k, "members": 3, "retained": who.len()})
        })
        .collect();
    let want = json!({
        "gym_id": gym, "from": from, "to": to, "figures": figures, "bookings_by_hour": by_hour,
        "cohorts": cohorts,
        "revenue": [{"month": first_of_month(today), "currency": "EUR", "purchases": 1, "revenue_cents": 9900}],
    });
    let kpis = format!("/api/analytics/gyms/{gym}/kpis?from={from}&to={to}");
    eventually(90, "the gym's KPIs as computed here", || async {
        let (status, body) = call(&app, &owner, Method::GET, &kpis, None).await;
        (status == 200 && body == want).then_some(())
    })
    .await;

    // Bookings per day, and per month.
    let mut per_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for (day, _, _) in &taken {
        *per_day.entry(*day).or_default() += 1;
    }
    let points: Vec<Value> = per_day
        .iter()
        .map(|(d, n)| json!({"start": d, "value": n}))
        .collect();
    let series = ok(
        &app,
        &owner,
        Method::GET,
        &format!("/api/analytics/gyms/{gym}/series?metric=bookings&bucket=day&from={from}&to={to}"),
        None,
    )
    .await;
    assert_eq!(series["points"], json!(points), "{series}");
    let mut per_month: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for (day, n) in &per_day {
        *per_month.entry(first_of_month(*day)).or_default() += n;
    }
    let points: Vec<Value> = per_month
        .iter()
        .map(|(d, n)| json!({"start": d, "value": n}))
        .collect();
    let series = ok(
        &app,
        &admin,
        Method::GET,
        &format!(
            "/api/analytics/gyms/{gym}/series?metric=bookings&bucket=month&from={from}&to={to}"
        ),
        None,
    )
    .await;
    assert_eq!(series["points"], json!(points), "{series}");

    // The trainer: a and b, both active; two sessions delivered (attended, over); a's
    // adherence 1 of 2 resolved, b's 1 of 1.
    let trainer_want = json!({
        "clients": 2, "new_clients": 2, "ended_clients": 0, "active_clients": 2,
        "sessions_delivered": 2, "booked_minutes": booked_minutes, "available_minutes": available_minutes,
        "utilisation": booked_minutes as f64 / available_minutes as f64,
        "average_adherence": (0.5 + 1.0) / 2.0, "retention": null,
    });
    let trainer_kpis = format!(
        "/api/analytics/trainers/{}/kpis?from={from}&to={to}",
        trainer.id
    );
    eventually(60, "the trainer's KPIs as computed here", || async {
        let (status, body) = call(&app, &trainer, Method::GET, &trainer_kpis, None).await;
        (status == 200 && body["figures"] == trainer_want && body["revenue"] == json!([]))
            .then_some(())
    })
    .await;

    // Who may read them.
    let gym_paths = [
        kpis.clone(),
        format!("/api/analytics/gyms/{gym}/series?metric=signups"),
    ];
    for path in &gym_paths {
        for (who, status) in [
            (&owner, 200),
            (&admin, 200),
            (&other_owner, 403),
            (&trainer, 403),
            (a, 403),
        ] {
            assert_eq!(
                call(&app, who, Method::GET, path, None).await.0,
                status,
                "{path}"
            );
        }
    }
    for (who, status) in [
        (&trainer, 200),
        (&owner, 200),
        (&admin, 200),
        (&other_trainer, 403),
        (&other_owner, 403),
        (a, 403),
    ] {
        assert_eq!(
            call(&app, who, Method::GET, &trainer_kpis, None).await.0,
            status,
            "trainer KPIs"
        );
    }
    // Bad input is a problem naming the field (a query that does not parse is a 400, as
    // everywhere; a value out of range a 422).
    for (path, status, field) in [
        (
            format!("/api/analytics/gyms/{gym}/kpis?from={to}&to={from}"),
            422,
            "from",
        ),
        (
            format!("/api/analytics/gyms/{gym}/kpis?to=1999-12-31"),
            422,
            "to",
        ),
        (
            format!("/api/analytics/gyms/{gym}/series?metric=revenue"),
            400,
            "metric",
        ),
    ] {
        let (got, problem) = call(&app, &owner, Method::GET, &path, None).await;
        assert_eq!(got, status, "{path}: {problem}");
        assert!(problem.to_string().contains(field), "{path}: {problem}");
    }
    app.stop().await;
}
