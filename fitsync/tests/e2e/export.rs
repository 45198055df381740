//! Exports read back by pyarrow: a client's sets from the pipeline as CSV and Parquet
//! equal what the client logged; an export larger than one chunk streams whole, one
//! Parquet row group per 8192 rows; a gym's and a trainer's exports; who may export.

use chrono::{DateTime, Duration, Utc};
use fitsync::Target;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    harness::{eventually, Account, TestApp, TestEnv},
    matrix::train,
    schedule::{join_gym, open_gym, projected},
};

/// Downloads an export: its status, content type and bytes.
async fn download(app: &TestApp, who: &Account, path: &str) -> (u16, String, Vec<u8>) {
    let response = app.get(who, path).await;
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

/// What pyarrow reads in a file of `format`.
fn read_back(bytes: &[u8], format: &str) -> Value {
    let dir = std::env::temp_dir().join(format!("fitsync-export-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("export.{format}"));
    std::fs::write(&path, bytes).unwrap();
    let python = std::env::var_os("FITSYNC_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::contract::python_tools().join("bin/python"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/arrow_read.py");
    let out = std::process::Command::new(python)
        .args([script, path.to_str().unwrap(), format])
        .output()
        .expect("python runs");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "pyarrow refused the {format} file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An instant as pyarrow prints it (`2026-11-26 10:00:00.123456+00:00`, or RFC 3339).
fn instant(v: &Value) -> DateTime<Utc> {
    let text = v.as_str().unwrap().replacen(' ', "T", 1);
    DateTime::parse_from_rfc3339(&text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_read_back_with_pyarrow_equal_the_data_and_stream_past_one_chunk() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let other = app.register("client").await;
    let trainer = app.register("trainer").await;
    let other_trainer = app.register("trainer").await;
    let admin = app.admin(&env).await;
    train(&app, &trainer, &client).await;

    // Three sets with known values.
    let now = Utc::now();
    let logged: Vec<(String, String, i64, f64, DateTime<Utc>)> = {
        let mut out = Vec::new();
        for (i, (reps, weight)) in [(5, 100.0), (3, 110.0), (8, 82.5)].into_iter().enumerate() {
            let at = now - Duration::hours(3 - i as i64);
            let response = app
                .log_set(&client, json!({"exercise": "back-squat", "reps": reps, "weight_kg": weight, "performed_at": at}))
                .await;
            assert_eq!(response.status(), 201);
            let set: Value = response.json().await.unwrap();
            let at: DateTime<Utc> = set["performed_at"].as_str().unwrap().parse().unwrap();
            out.push((
                set["id"].as_str().unwrap().to_owned(),
                set["exercise"].as_str().unwrap().to_owned(),
                reps,
                weight,
                at,
            ));
        }
        out
    };
    let sets = |format: &str| {
        format!(
            "/api/progress/{}/export?dataset=sets&format={format}",
            client.id
        )
    };
    for format in ["csv", "parquet"] {
        let read = eventually(60, "the three sets exported", || async {
            let (status, _, bytes) = download(&app, &client, &sets(format)).await;
            assert_eq!(status, 200);
            let read = read_back(&bytes, format);
            (read["rows"].as_array()?.len() == 3).then_some(read)
        })
        .await;
        assert_eq!(
            read["columns"],
            json!([
                "set_id",
                "exercise",
                "reps",
                "weight_kg",
                "rir",
                "failed",
                "performed_at",
                "local_date",
                "workout_id"
            ])
        );
        for (row, (id, exercise, reps, weight, at)) in
            read["rows"].as_array().unwrap().iter().zip(&logged)
        {
            assert_eq!(
                (
                    row["set_id"].as_str().unwrap(),
                    row["exercise"].as_str().unwrap(),
                    row["reps"].as_i64().unwrap(),
                    row["weight_kg"].as_f64().unwrap()
                ),
                (id.as_str(), exercise.as_str(), *reps, *weight),
                "{format}: {row}"
            );
            assert_eq!(instant(&row["performed_at"]), *at, "{format}: {row}");
            assert_eq!(
                row["local_date"].as_str().unwrap(),
                at.date_naive().to_string(),
                "{format}"
            );
        }
        if format == "parquet" {
            let types = read["types"].as_array().unwrap();
            assert_eq!(types[2], "int64");
            assert_eq!(types[6], "timestamp[us, tz=+00:00]");
            assert_eq!(types[7], "date32[day]");
        }
    }

    // 20,000 sets of a client straight into the facts: the export streams them all, a
    // Parquet row group per 8192 rows.
    let big = Uuid::new_v4();
    let rows = 20_000;
    sqlx::query(
        "insert into set_facts (set_id, client_id, exercise, reps, weight_kg, rir, performed_at, local_date, event_id)
         select gen_random_uuid(), $1, 'back-squat', 1 + i % 10, 20 + i % 100, null, now() - i * interval '1 minute',
                (now() - i * interval '1 minute')::date, gen_random_uuid()
         from generate_series(1, $2) i",
    )
    .bind(big)
    .bind(rows)
    .execute(&env.progress_db())
    .await
    .unwrap();
    let path = |format: &str| {
        format!(
            "/api/progress/{big}/export?dataset=sets&format={format}&from={}",
            (now - Duration::days(30)).date_naive()
        )
    };
    let (status, kind, bytes) = download(&app, &admin, &path("parquet")).await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "application/vnd.apache.parquet")
    );
    let read = read_back(&bytes, "parquet");
    assert_eq!(read["rows"].as_array().unwrap().len(), rows as usize);
    assert_eq!(read["row_groups"], json!((rows as usize).div_ceil(8192)));
    let total: i64 = read["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reps"].as_i64().unwrap())
        .sum();
    // Σ (1 + i mod 10) for i in 1..=20000: 2000 of each of 1..=10 shifted by one.
    let want: i64 = (1..=rows).map(|i| 1 + i % 10).sum();
    assert_eq!(total, want);
    let (status, kind, bytes) = download(&app, &admin, &path("csv")).await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(
        bytes.iter().filter(|b| **b == b'\n').count(),
        rows as usize + 1,
        "a header and every row"
    );
    assert_eq!(
        read_back(&bytes, "csv")["rows"].as_array().unwrap().len(),
        rows as usize
    );

    // An empty export is a header (CSV) or a file without rows (Parquet).
    let empty = format!(
        "/api/progress/{}/export?dataset=measurements&format=csv",
        other.id
    );
    let (status, _, bytes) = download(&app, &other, &empty).await;
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "measurement_id,metric,value,local_date,measured_at\n"
    );
    let (_, _, bytes) = download(&app, &other, &empty.replace("csv", "parquet")).await;
    assert_eq!(read_back(&bytes, "parquet")["rows"], json!([]));

    // A gym's daily metrics and a trainer's clients.
    let (owner, gym) = open_gym(&app, "Export Gym").await;
    let (other_owner, _) = open_gym(&app, "Other Export Gym").await;
    join_gym(&app, &owner, &gym, &client, "client").await;
    // The trainer joins the gym too: its owner reads the trainer's revenue, not the
    // trainer's per-client rows.
    join_gym(&app, &owner, &gym, &trainer, "trainer").await;
    projected(&env, "gym", gym.parse().unwrap(), trainer.id).await;
    let revenue = format!(
        "/api/analytics/trainers/{}/export?dataset=revenue&format=csv",
        trainer.id
    );
    let daily = format!("/api/analytics/gyms/{gym}/export?dataset=daily&format=parquet");
    let read = eventually(60, "the sign-up exported", || async {
        let (status, _, bytes) = download(&app, &owner, &daily).await;
        assert_eq!(status, 200);
        let read = read_back(&bytes, "parquet");
        read["rows"]
            .as_array()?
            .iter()
            .any(|r| r["metric"] == "signups")
            .then_some(read)
    })
    .await;
    assert!(
        read["rows"].as_array().unwrap().contains(
            &json!({"day": now.date_naive().to_string(), "metric": "signups", "value": 1})
        ),
        "{read}"
    );
    let clients = format!(
        "/api/analytics/trainers/{}/export?dataset=clients&format=csv",
        trainer.id
    );
    let read = eventually(60, "the trainer's client exported", || async {
        let (status, _, bytes) = download(&app, &trainer, &clients).await;
        assert_eq!(status, 200);
        let read = read_back(&bytes, "csv");
        (read["rows"].as_array()?.len() == 1).then_some(read)
    })
    .await;
    assert_eq!(
        read["rows"][0]["client_id"].as_str(),
        Some(client.id.to_string().as_str())
    );
    // Days from the newest set's day to today (UTC: the client has no time zone set; the
    // sets were an hour to three ago, so yesterday's just after midnight).
    let newest = logged.iter().map(|l| l.4).max().unwrap();
    assert_eq!(
        read["rows"][0]["days_since_training"],
        json!((Utc::now().date_naive() - newest.date_naive()).num_days())
    );

    // Who may export.
    for (who, path, status) in [
        (&other, sets("csv"), 403),
        (&other_trainer, sets("csv"), 403),
        (&trainer, sets("csv"), 200),
        (&owner, sets("csv"), 200),
        (&other_trainer, clients.clone(), 403),
        (&client, clients.clone(), 403),
        (&admin, clients.clone(), 200),
        (&owner, clients.clone(), 403),
        (
            &owner,
            clients.replace("=clients&", "=clients_adherence&"),
            403,
        ),
        (&owner, revenue.clone(), 200),
        (&other_owner, revenue.clone(), 403),
        (&other_owner, daily.clone(), 403),
        (&trainer, daily.clone(), 403),
        (&admin, daily.clone(), 200),
    ] {
        assert_eq!(download(&app, who, &path).await.0, status, "{path}");
    }
    app.stop().await;
}
