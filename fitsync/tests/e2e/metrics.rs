//! What an operator scrapes: the families the alert rules and the operations dashboard
//! are written against, named by Prometheus conventions (`promtool check metrics` finds
//! nothing to say), with bounded labels.

use std::process::Stdio;

use fitsync::Target;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::harness::{eventually, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_an_operator_needs_are_exported_and_promtool_accepts_them() {
    let mut env = TestEnv::new().await;
    env.settings.jobs.stats_interval_ms = 500;
    let app = env.start(&[Target::All]).await;
    let client = app.register("client").await;
    let set = json!({"exercise": "barbell-squat", "reps": 5, "weight_kg": 100.0});
    assert_eq!(app.log_set(&client, set).await.status(), 201);
    let progress = env.progress_db();
    eventually(60, "the set counted", || async {
        let n: i64 = sqlx::query_scalar("select count(*) from set_facts")
            .fetch_one(&progress)
            .await
            .ok()?;
        (n == 1).then_some(())
    })
    .await;

    let families = [
        // the process collector
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        // the outbox, per source
        r#"fitsync_outbox_backlog{source="training"}"#,
        r#"fitsync_outbox_oldest_age_seconds{source="users"}"#,
        // consumers
        "fitsync_consumer_lag{",
        "fitsync_consumer_assigned_partitions{",
        // (values are shared with the other tests of this process: names only)
        r#"fitsync_dead_letters_total{job="analytics"}"#,
        r#"fitsync_pipeline_freshness_seconds_count{job="analytics"}"#,
        // saturation
        r#"fitsync_db_pool_connections{pool="training",state="in_use"}"#,
        r#"fitsync_db_pool_max_connections{pool="progress"}"#,
        "fitsync_redis_ping_seconds",
        "fitsync_redis_up 1",
        // revocations (names only: other tests' mirrors share the process)
        "fitsync_revocations_mirror_live",
        "fitsync_revocations_mirror_syncs_total",
        // requests
        "fitsync_http_requests_total",
    ];
    let scrape = || async {
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let missing = |text: &str| -> Vec<&str> {
        families
            .iter()
            .filter(|f| !text.contains(*f))
            .copied()
            .collect()
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut text = scrape().await;
    while !missing(&text).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        text = scrape().await;
    }
    assert_eq!(missing(&text), Vec::<&str>::new(), "families not exported");

    // No ids in labels: the series a scrape returns stay bounded.
    let uuid = regex_like_uuid(&text);
    assert!(uuid.is_none(), "an id in a label: {uuid:?}");

    let mut promtool = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/stack.sh install)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .await
        .unwrap();
    let out = promtool.wait_with_output().await.unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
    app.stop().await;
}

/// The first UUID-shaped word in `text`, if any.
fn regex_like_uuid(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|w| {
            w.len() == 36
                && w.chars().enumerate().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                })
        })
        .map(str::to_owned)
}
