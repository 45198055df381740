//! Dashboards as code: every SQL panel runs on a seeded progressdb, and every Prometheus
//! panel asks only for metrics the platform exports.

use std::collections::BTreeSet;

use fitsync::Target;
use serde_json::{json, Value};
use sqlx::Row;

use crate::harness::TestEnv;

const DASHBOARDS: [(&str, &str); 2] = [
    (
        "training-activity",
        include_str!("../../../dashboards/json/training-activity.json"),
    ),
    (
        "pipeline-operations",
        include_str!("../../../dashboards/json/pipeline-operations.json"),
    ),
];

/// (dashboard, panel title, datasource type, query) of every panel target.
fn queries() -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for (name, text) in DASHBOARDS {
        let dashboard: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            dashboard["uid"].is_string() && dashboard["title"].is_string(),
            "{name}"
        );
        for panel in dashboard["panels"].as_array().unwrap() {
            let kind = panel["datasource"]["type"].as_str().unwrap().to_owned();
            for target in panel["targets"].as_array().unwrap() {
                let query = target["rawSql"]
                    .as_str()
                    .or(target["expr"].as_str())
                    .unwrap()
                    .to_owned();
                out.push((
                    name.to_owned(),
                    panel["title"].as_str().unwrap().to_owned(),
                    kind.clone(),
                    query,
                ));
            }
        }
    }
    out
}

/// Grafana's `$__timeFilter(expr)`, over the dashboards' widest range.
fn expand_macros(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(start) = rest.find("$__timeFilter(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "$__timeFilter(".len()..];
        let mut depth = 1;
        let end = after
            .char_indices()
            .find(|(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("balanced macro");
        out.push_str(&format!(
            "{} between now() - interval '90 days' and now()",
            &after[..end]
        ));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sql_panel_runs_on_a_seeded_database() {
    let env = TestEnv::new().await;
    let db = env.progress_db();
    sqlx::query(
        "insert into set_facts (set_id, client_id, exercise, reps, weight_kg, rir, performed_at, local_date, event_id,
                                counted_at)
         select gen_random_uuid(), ('00000000-0000-4000-8000-00000000000' || (i % 3))::uuid, 'barbell-squat', 5, 100, 1,
                now() - i * interval '1 day', (now() - i * interval '1 day')::date, gen_random_uuid(),
                now() - i * interval '1 day' + interval '80 milliseconds'
         from generate_series(1, 20) i",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "insert into weekly_volume (client_id, week_start, volume_kg, sets)
         values ('00000000-0000-4000-8000-000000000001', date_trunc('week', now())::date, 1500, 3)",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "insert into exercise_e1rm (client_id, exercise, e1rm_kg, e1rm_brzycki_kg, set_id, achieved_at)
         values ('00000000-0000-4000-8000-000000000001', 'barbell-squat', 120, 117, gen_random_uuid(), now())",
    )
    .execute(&db)
    .await
    .unwrap();

    let sql: Vec<_> = queries()
        .into_iter()
        .filter(|q| q.2 == "grafana-postgresql-datasource")
        .collect();
    assert!(sql.len() >= 6);
    for (dashboard, title, _, query) in sql {
        let rows = sqlx::query(&expand_macros(&query))
            .fetch_all(&db)
            .await
            .unwrap_or_else(|e| panic!("{dashboard} / {title}: {e}"));
        assert!(
            !rows.is_empty(),
            "{dashboard} / {title} returned nothing on seeded data"
        );
        assert!(rows[0].len() >= 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_prometheus_panel_uses_exported_metrics() {
    let env = TestEnv::new().await;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    assert_eq!(
        app.log_set(
            &client,
            json!({"exercise": "barbell-deadlift", "reps": 3, "weight_kg": 160})
        )
        .await
        .status(),
        201
    );
    let exported = app.metrics_with("fitsync_job_events_total", 60).await;
    let exported: BTreeSet<&str> = exported
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let prom: Vec<_> = queries()
        .into_iter()
        .filter(|q| q.2 == "prometheus")
        .collect();
    assert!(prom.len() >= 5);
    for (dashboard, title, _, expr) in prom {
        let names: Vec<&str> = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("fitsync_"))
            .collect();
        assert!(
            !names.is_empty(),
            "{dashboard} / {title}: no FitSync metric"
        );
        for name in names {
            assert!(
                exported.contains(name),
                "{dashboard} / {title}: {name} is not exported"
            );
        }
    }
    app.stop().await;
}

#[test]
fn time_filter_macro_expands() {
    assert_eq!(
        expand_macros("where $__timeFilter(week_start::timestamptz) and x"),
        "where week_start::timestamptz between now() - interval '90 days' and now() and x"
    );
}
