//! Scale-out by partitions (issue 13): the analytics job as one and then two processes
//! (`fitsync run --target analytics`) in one consumer group, each pair in one run:
//!
//! - throughput: the processes join their group on empty topics of 4 partitions (the
//!   default) and, as the control, of 1 partition; once every process has its
//!   assignment (`fitsync_consumer_assigned_partitions` on each one's `/metrics`), a
//!   relay publishes `events` set_logged events, which they drain; the rate is counted
//!   from the job's own `counted_at` stamps (first to last); each process's share comes
//!   from its `/metrics`;
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
    partitions: i32,
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
            .env("FITSYNC__KAFKA__PARTITIONS", partitions.to_string())
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

/// The sum of `metric`'s samples on `job`'s `/metrics` whose labels contain `labels`;
/// `None` if it has none.
async fn metric(job: &Job, metric: &str, labels: &str) -> anyhow::Result<Option<f64>> {
    let text = reqwest::get(format!("{}/metrics", job.url))
        .await?
        .text()
        .await?;
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .collect();
    Ok((!values.is_empty()).then(|| values.iter().sum()))
}

/// The analytics job's topics (training, exercises, progress, schedule, users).
const JOB_TOPICS: i32 = 5;

/// Waits until every one of `jobs` has joined its group and they hold all
/// `partitions` of each topic between them, each at least one where there are enough.
async fn assigned(jobs: &[Job], partitions: i32) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut held = Vec::new();
        for job in jobs {
            held.push(metric(job, "fitsync_consumer_assigned_partitions", "").await?);
        }
        let all: Option<Vec<f64>> = held.into_iter().collect();
        if let Some(all) = all {
            let enough = usize::try_from(partitions)? >= jobs.len();
            if all.iter().sum::<f64>() == f64::from(partitions * JOB_TOPICS)
                && (!enough || all.iter().all(|n| *n >= 1.0))
            {
                return Ok(());
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "the group never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    for (partitions, instances) in [(4, 1), (4, 2), (1, 2)] {
        let run = format!("{partitions}x{instances}");
        let mut shape = settings.clone();
        shape.kafka.partitions = partitions;
        shape.kafka.topic_prefix = format!("scale{run}{id}.");
        let progress_name = format!("bench_{id}_scale{run}p");
        let progress = migrated_progress(settings, &progress_name).await?;
        let started = jobs(
            settings,
            binary,
            instances,
            &shape.kafka.topic_prefix,
            &progress_name,
            &format!("scale{run}{id}"),
            partitions,
        )
        .await?;
        assigned(&started, partitions).await?;
        // Then the events: outbox → relay → Kafka, while the group drains them.
        let training_name = format!("bench_{id}_scale{run}t");
        create_database(settings, &training_name).await?;
        let training = db::pool(&settings.database, &training_name)?;
        db::migrate(
            &training,
            &fitsync_training::MIGRATIONS,
            Duration::from_secs(10),
        )
        .await?;
        bench_relay(&shape, &training, events).await?;
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
            let n = metric(job, "fitsync_job_events_total", "job=\"analytics\"").await?;
            shares.push(format!("{:.0}", n.unwrap_or(0.0)));
        }
        drop(started);
        let rate = events as f64 / span;
        rates.insert(run, rate);
        println!(
            "| {partitions} | {instances} | {rate:.0} | {} |",
            shares.join(" + ")
        );
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
            settings.kafka.partitions,
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
