//! A client's charts from the live pipeline, in their own time zone: sets logged by a
//! client in Auckland (UTC+13 in November) land on their local days and ISO weeks; the
//! volume, e1RM and hard-sets-per-muscle series, the records and the workload equal the
//! formulas applied here to what was logged.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use fitsync::app::Target;
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{epley, eventually, trains_in_training, Account, TestApp, TestEnv};
use crate::matrix::train;

async fn get(app: &TestApp, who: &Account, path: &str) -> Value {
    let response = app
        .http
        .request(Method::GET, app.url(path))
        .bearer_auth(&who.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

struct Logged {
    exercise: String,
    reps: i32,
    kg: f64,
    rir: Option<i32>,
    day: NaiveDate,
}

fn monday(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

fn points(series: &Value) -> BTreeMap<NaiveDate, f64> {
    series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap().parse().unwrap(),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_charts_follow_their_local_days_and_equal_the_formulas() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let trainer = app.register("trainer").await;
    train(&app, &trainer, &client).await;
    trains_in_training(&env, trainer.id, client.id).await;

    // The program puts the client in Auckland.
    let template: Value = app
        .http
        .post(app.url("/api/programs"))
        .bearer_auth(&trainer.token)
        .json(&crate::programs::program(1, 80.0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let assigned = app
        .http
        .post(app.url(&format!(
            "/api/programs/{}/assignments",
            template["id"].as_str().unwrap()
        )))
        .bearer_auth(&trainer.token)
        .json(&json!({"client_id": client.id, "start_date": Utc::now().date_naive(), "time_zone": "Pacific/Auckland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), 201);

    // (exercise, reps, kg, rir, UTC time). NZDT is UTC+13 from late September to April.
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let sets = [
        ("back-squat", 5, 100.0, Some(2), at("2026-11-15T12:00:00Z")), // Mon 16th 01:00 local
        ("back-squat", 3, 110.0, Some(0), at("2026-11-17T05:00:00Z")), // Tue 17th 18:00
        (
            "barbell-bench-press-medium-grip",
            8,
            80.0,
            Some(4),
            at("2026-11-18T20:00:00Z"),
        ), // Thu 19th
        (
            "barbell-bench-press-medium-grip",
            6,
            85.0,
            None,
            at("2026-11-19T03:00:00Z"),
        ), // Thu 19th
        ("back-squat", 1, 120.0, None, at("2026-11-08T10:30:00Z")), // Sun 8th 23:30: the week before
        ("back-squat", 5, 100.0, Some(1), at("2026-11-22T11:30:00Z")), // Mon 23rd 00:30: the week after
    ];
    let mut logged = Vec::new();
    for (exercise, reps, kg, rir, when) in sets {
        let body: Value = app
            .log_set(
                &client,
                json!({"exercise": exercise, "reps": reps, "weight_kg": kg, "rir": rir, "performed_at": when}),
            )
            .await
            .json()
            .await
            .unwrap();
        logged.push(Logged {
            exercise: body["exercise"].as_str().unwrap().to_owned(),
            reps,
            kg,
            rir,
            day: (when + Duration::hours(13)).date_naive(),
        });
    }
    let days: BTreeSet<NaiveDate> = logged.iter().map(|l| l.day).collect();
    assert_eq!(
        days.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        [
            "2026-11-08",
            "2026-11-16",
            "2026-11-17",
            "2026-11-19",
            "2026-11-23"
        ],
        "the local days the sets fall on"
    );

    // Weekly volume by local ISO week, as the formula gives.
    let mut weekly: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for l in &logged {
        *weekly.entry(monday(l.day)).or_default() += l.kg * f64::from(l.reps);
    }
    let range = "from=2026-11-01&to=2026-11-30";
    let path = format!(
        "/api/progress/{}/series?metric=volume&bucket=week&{range}",
        client.id
    );
    let volume = eventually(60, "every set in the weekly volume", || async {
        let s = get(&app, &trainer, &path).await;
        (points(&s) == weekly).then_some(s)
    })
    .await;
    assert_eq!(volume["unit"], "kg");

    // Daily volume and sets.
    let mut daily: BTreeMap<NaiveDate, (f64, f64)> = BTreeMap::new();
    for l in &logged {
        let d = daily.entry(l.day).or_default();
        d.0 += l.kg * f64::from(l.reps);
        d.1 += 1.0;
    }
    let by_day = get(
        &app,
        &client,
        &format!(
            "/api/progress/{}/series?metric=volume&bucket=day&{range}",
            client.id
        ),
    )
    .await;
    assert_eq!(
        points(&by_day),
        daily.iter().map(|(d, v)| (*d, v.0)).collect()
    );
    let sets_by_day = get(
        &app,
        &client,
        &format!(
            "/api/progress/{}/series?metric=sets&bucket=day&{range}",
            client.id
        ),
    )
    .await;
    assert_eq!(
        points(&sets_by_day),
        daily.iter().map(|(d, v)| (*d, v.1)).collect()
    );

    // The squat's best e1RM per week (reps to failure = reps + RIR), and the records.
    let squat = logged[0].exercise.clone();
    let mut best: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for l in logged.iter().filter(|l| l.exercise == squat) {
        let e = epley(l.kg, l.reps + l.rir.unwrap_or(0));
        let b = best.entry(monday(l.day)).or_insert(e);
        *b = b.max(e);
    }
    let e1rm = get(
        &app,
        &client,
        &format!(
            "/api/progress/{}/series?metric=e1rm&exercise={squat}&bucket=week&{range}",
            client.id
        ),
    )
    .await;
    let got = points(&e1rm);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        best.keys().collect::<Vec<_>>()
    );
    for (w, v) in &best {
        assert!((got[w] - v).abs() < 1e-9, "{e1rm}");
    }
    // The squat's trend over those weeks: the least-squares slope of its weekly bests,
    // as the formula gives (weeks numbered from the first).
    let plateaus = get(
        &app,
        &client,
        &format!("/api/progress/{}/plateaus?weeks=6&to=2026-11-29", client.id),
    )
    .await;
    let first = *best.keys().next().unwrap();
    let pts: Vec<(f64, f64)> = best
        .iter()
        .map(|(w, v)| ((*w - first).num_days() as f64 / 7.0, *v))
        .collect();
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let slope = pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
        / pts.iter().map(|(x, _)| (x - mx) * (x - mx)).sum::<f64>();
    let squat_trend = plateaus["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["exercise"] == json!(squat))
        .unwrap();
    assert_eq!(squat_trend["weeks"], json!(pts.len()), "{plateaus}");
    assert!(
        (squat_trend["slope_kg_per_week"].as_f64().unwrap() - slope).abs() < 1e-6,
        "{plateaus} {slope}"
    );
    assert_eq!(squat_trend["plateau"], json!(slope <= 0.0));
    // The bench has one week of data: too few to judge.
    assert!(plateaus["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["exercise"] != json!(logged[2].exercise)));
    let records = get(
        &app,
        &client,
        &format!("/api/progress/{}/records", client.id),
    )
    .await;
    let mut by_reps: BTreeMap<(String, i32), f64> = BTreeMap::new();
    for l in &logged {
        let r = by_reps.entry((l.exercise.clone(), l.reps)).or_insert(l.kg);
        *r = r.max(l.kg);
    }
    let got: BTreeMap<(String, i32), f64> = records["by_reps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                (
                    r["exercise"].as_str().unwrap().to_owned(),
                    r["reps"].as_i64().unwrap() as i32,
                ),
                r["weight_kg"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, by_reps);
    // The best session: loose sets form one per local day.
    let (best_day, best_volume) =
        daily
            .iter()
            .map(|(d, v)| (*d, v.0))
            .fold(
                (NaiveDate::MIN, f64::MIN),
                |a, b| if b.1 > a.1 { b } else { a },
            );
    assert_eq!(records["best_session"]["day"], json!(best_day));
    assert_eq!(records["best_session"]["volume_kg"], json!(best_volume));

    // Hard sets per primary muscle per week: RIR ≤ 3 or unknown, from the library's muscles.
    let mut muscles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in &logged {
        if !muscles.contains_key(&l.exercise) {
            let e = get(&app, &client, &format!("/api/exercises/{}", l.exercise)).await;
            let primary = e["primary_muscles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect();
            muscles.insert(l.exercise.clone(), primary);
        }
    }
    let chest = "chest";
    assert!(
        muscles.values().any(|m| m.iter().any(|x| x == chest)),
        "{muscles:?}"
    );
    let mut hard: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for l in logged
        .iter()
        .filter(|l| muscles[&l.exercise].iter().any(|m| m == chest))
    {
        let h = hard.entry(monday(l.day)).or_default();
        *h += f64::from(u8::from(l.rir.is_none_or(|r| r <= 3)));
    }
    let chest_series = get(
        &app,
        &client,
        &format!(
            "/api/progress/{}/series?metric=hard_sets&muscle={chest}&bucket=week&{range}",
            client.id
        ),
    )
    .await;
    assert_eq!(points(&chest_series), hard);

    // The workload of the last day with one: its 7-day and 28-day means.
    let load: BTreeMap<NaiveDate, f64> = daily.iter().map(|(d, v)| (*d, v.0)).collect();
    let workload = get(
        &app,
        &client,
        &format!("/api/progress/{}/workload?days=366", client.id),
    )
    .await;
    let rows = workload["days"].as_array().unwrap();
    let last_load_day = *load.keys().next_back().unwrap();
    let first_day = *load.keys().next().unwrap();
    // A row for every day from the first load to 27 days after the last, up to tomorrow
    // (UTC): the days to come are not served.
    let tomorrow = Utc::now().date_naive() + Duration::days(1);
    let last_row = (last_load_day + Duration::days(27)).min(tomorrow);
    assert_eq!(rows.len() as i64, (last_row - first_day).num_days() + 1);
    assert_eq!(rows.last().unwrap()["day"], json!(last_row));
    let row = rows
        .iter()
        .find(|r| r["day"] == json!(last_load_day))
        .unwrap();
    let mean = |n: i64| -> f64 {
        load.range(last_load_day - Duration::days(n - 1)..=last_load_day)
            .map(|(_, v)| v)
            .sum::<f64>()
            / n as f64
    };
    assert!(
        (row["acute_kg"].as_f64().unwrap() - mean(7)).abs() < 1e-9,
        "{row}"
    );
    assert!(
        (row["chronic_kg"].as_f64().unwrap() - mean(28)).abs() < 1e-9,
        "{row}"
    );
    assert!(
        (row["ratio"].as_f64().unwrap() - mean(7) / mean(28)).abs() < 1e-9,
        "{row}"
    );

    // Bad requests name their field.
    for bad in [
        "metric=e1rm",
        "metric=volume&exercise=back-squat",
        "metric=hard_sets&muscle=chest&bucket=day",
        "metric=volume&from=2026-11-30&to=2026-11-01",
        "metric=volume&from=2020-01-01&to=2026-11-01",
        "metric=body",
        "metric=vibes",
    ] {
        let r = app
            .http
            .get(app.url(&format!("/api/progress/{}/series?{bad}", client.id)))
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == 422 || r.status() == 400,
            "{bad}: {}",
            r.status()
        );
    }
}
