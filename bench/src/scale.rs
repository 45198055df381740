//! Scale-out by partitions (issue 13): the analytics job as one and then two processes
//! (`fitsync run --target analytics`) in one consumer group, each pair in one run:
//!
//! - throughput: the processes drain the same `events` set_logged events from a topic of
//!   4 partitions (the default), and, as the control, two drain a topic of 1 partition;
//!   the rate is counted from the job's own `counted_at` stamps (first to last), so a
//!   group's join and rebalance are not in it; each process's share comes from its
//!   `/metrics`;
//! - freshness: write commit → analytics row, p50/p99 at a steady write rate through the
//!   API, with one and then two analytics processes beside the API-and-relay process.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use fitsync_platform::{db, Settings};
use secrecy::ExposeSecret;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    bench_relay, count, create_database, freshness, steady_writes, Child_, Load, Platform,
    ANALYZE_AFTER,
};

/// An analytics process, and where its `/metrics` are.
struct Job {
    _child: Child_,
    url: String,
}

/// Starts `instances` analytics processes on `topic_prefix`'s topics, writing into
/// `progress`, in consumer group `group`; returns once each answers `/readyz`.
async fn jobs(
    settings: &Settings,
    binary: &Path,
    instances: usize,
    topic_prefix: &str,
    progress: &str,
    group: &str,
) -> anyhow::Result<Vec<Job>> {
    let http = reqwest::Client::new();
    let mut started = Vec::new();
    for _ in 0..instances {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(binary)
            .args(["run", "--target", "analytics"])
            .env(
                "FITSYNC__DATABASE__URL",
                settings.database.url.expose_secret(),
            )
            .env("FITSYNC__DATABASE__NAMES__PROGRESS", progress)
            .env("FITSYNC__KAFKA__BROKERS", &settings.kafka.brokers)
            .env("FITSYNC__KAFKA__TOPIC_PREFIX", topic_prefix)
            .env("FITSYNC__JOBS__CONSUMER_GROUP_PREFIX", group)
            .env("FITSYNC__OPENSEARCH__URL", &settings.opensearch.url)
            .env("FITSYNC__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("FITSYNC__TELEMETRY__LOG_LEVEL", "error")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        started.push(Job {
            _child: Child_(child),
            url: format!("http://127.0.0.1:{port}"),
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for job in &started {
        while !http
            .get(format!("{}/readyz", job.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                "an analytics process never became ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(started)
}

/// The messages `job` has consumed, from its `/metrics`.
async fn consumed(job: &Job) -> anyhow::Result<f64> {
    let text = reqwest::get(format!("{}/metrics", job.url))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("fitsync_job_events_total{") && l.contains("job=\"analytics\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

async fn migrated_progress(settings: &Settings, name: &str) -> anyhow::Result<PgPool> {
    create_database(settings, name).await?;
    let pool = db::pool(&settings.database, name)?;
    db::migrate(
        &pool,
        &fitsync_progress::MIGRATIONS,
        Duration::from_secs(10),
    )
    .await?;
    Ok(pool)
}

pub async fn run(
    settings: &Settings,
    id: &str,
    binary: &PathBuf,
    events: i64,
    load: &Load,
) -> anyhow::Result<()> {
    println!("Scale-out: the analytics job as 1 and 2 processes ({events} events a run)");
    println!("| partitions | processes | events/s | per process (consumed) |");
    println!("|---|---|---|---|");
    let mut rates = HashMap::new();
    for partitions in [4, 1] {
        // The events once per topic: outbox → relay → Kafka.
        let mut shape = settings.clone();
        shape.kafka.partitions = partitions;
        shape.kafka.topic_prefix = format!("scale{partitions}{id}.");
        let training_name = format!("bench_{id}_scale{partitions}t");
        create_database(settings, &training_name).await?;
        let training = db::pool(&settings.database, &training_name)?;
        db::migrate(
            &training,
            &fitsync_training::MIGRATIONS,
            Duration::from_secs(10),
        )
        .await?;
        bench_relay(&shape, &training, events).await?;
        let runs: &[usize] = if partitions == 1 { &[2] } else { &[1, 2] };
        for &instances in runs {
            let run = format!("{partitions}x{instances}");
            let progress_name = format!("bench_{id}_scale{run}p");
            let progress = migrated_progress(settings, &progress_name).await?;
            let started = jobs(
                settings,
                binary,
                instances,
                &shape.kafka.topic_prefix,
                &progress_name,
                &format!("scale{run}{id}"),
            )
            .await?;
            let deadline = Instant::now() + Duration::from_secs(600);
            while count(&progress, "select count(*) from set_facts").await? < events {
                anyhow::ensure!(Instant::now() < deadline, "the job did not drain the topic");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let span: f64 = sqlx::query_scalar(
                "select extract(epoch from max(counted_at) - min(counted_at))::float8 from set_facts",
            )
            .fetch_one(&progress)
            .await?;
            let mut shares = Vec::new();
            for job in &started {
                shares.push(format!("{:.0}", consumed(job).await?));
            }
            drop(started);
            let rate = events as f64 / span;
            rates.insert(run, rate);
            println!(
                "| {partitions} | {instances} | {rate:.0} | {} |",
                shares.join(" + ")
            );
        }
    }
    println!(
        "2 ÷ 1 processes, 4 partitions {:>6.2}\n2 processes, 1 ÷ 4 partitions {:>5.2}",
        rates["4x2"] / rates["4x1"],
        rates["1x2"] / rates["4x2"]
    );

    println!(
        "\nFreshness at {} writes/s for {} s (after {} s of warm-up), API and relay in one process:",
        load.rate,
        load.seconds,
        load.warmup.as_secs()
    );
    for instances in [1, 2] {
        let tag = format!("s{instances}");
        let platform =
            Platform::start_targets(settings, id, &tag, binary, "users,training,relay", &[])
                .await?;
        let progress_name = &platform
            .names
            .iter()
            .find(|(service, _)| *service == "PROGRESS")
            .context("the progress database")?
            .1;
        let _jobs = jobs(
            settings,
            binary,
            instances,
            &format!("{tag}{id}."),
            progress_name,
            &format!("fresh{tag}{id}"),
        )
        .await?;
        let mut tokens = Vec::new();
        for i in 0..50 {
            let (_, token) = platform
                .account(&format!("scale{i}@example.com"), "client")
                .await?;
            tokens.push(token);
        }
        let (api, http) = (platform.api.clone(), platform.http.clone());
        let analyzed = platform.analyze_after(settings, ANALYZE_AFTER)?;
        let (from, sent, achieved) = steady_writes(
            load,
            |n| {
                http.post(format!("{api}/api/workouts/sets"))
                    .bearer_auth(&tokens[(n % 50) as usize])
                    .json(&json!({"exercise": "back-squat", "reps": 1 + n % 8,
                                  "weight_kg": 100.0 + (n % 20) as f64 * 2.5}))
                    .send()
            },
            |_| {},
        )
        .await?;
        analyzed.await?;
        let training = platform.pool(settings, "TRAINING")?;
        let progress = platform.pool(settings, "PROGRESS")?;
        let (histogram, measured) = freshness(&training, &progress, from, sent).await?;
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{instances} process{}      p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({measured} writes measured, {achieved:.0} writes/s offered)",
            if instances == 1 { " " } else { "es" },
            ms(0.5),
            ms(0.99),
            histogram.max() as f64 / 1000.0
        );
    }
    Ok(())
}
