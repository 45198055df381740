//! Benchmarks of the pipeline on the real servers (`scripts/stack.sh start` first), each
//! reported with its baseline measured in the same run:
//!
//! 1. relay: outbox rows → Kafka, events/s;
//! 2. analytics job: Kafka → Polars → PostgreSQL, events/s, as a ratio to a raw rdkafka
//!    consume-and-drop loop over the same topic; its compute path alone (decode + Polars,
//!    no sink) against the same loop; the whole job against a bare binary `COPY` of the
//!    rows it wrote into the same tables; a backfill of the same events (time, peak RSS of
//!    `fitsync backfill`) against the same aggregations written as SQL;
//! 3. freshness: write commit → analytics row, p50/p99 at a steady write rate against a
//!    `fitsync run --target all` child process, with that process's peak RSS;
//! 4. auth (`auth.rs`), schedule (`schedule.rs`), alerts (`alerts.rs`), api (`api.rs`),
//!    wger (`wger.rs`) and scale (`scale.rs`): see those modules.
//!
//! Run with `scripts/bench.sh` (release build). Nothing here asserts a time.

mod alerts;
mod api;
mod auth;
mod scale;
mod schedule;
mod usage;
mod wger;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Parser;
use fitsync_ingest::Relay;
use fitsync_platform::{db, Settings};
use fitsync_stream_jobs::ProgressAnalytics;
use futures::StreamExt;
use hdrhistogram::Histogram;
use rdkafka::consumer::{Consumer, StreamConsumer};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Debug, Parser)]
struct Args {
    /// Events for the relay and job throughput runs.
    #[arg(long, default_value_t = 100_000)]
    events: i64,
    /// Writes per second in the freshness run.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Seconds of steady load measured in the freshness and alerts runs.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of the same steady load before the measured ones, left out of the
    /// figures: the JVMs (Kafka, OpenSearch) still compile their hot code for the first
    /// minutes of load, and compete with everything else for the cores while they do.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// The fitsync binary for the freshness run (default: beside this one).
    #[arg(long)]
    fitsync: Option<PathBuf>,
    /// Which benchmarks: `pipeline` (with backfill and freshness), `freshness` alone,
    /// `alerts` (latency to an open stream, and the alerts job's throughput), `api`
    /// (the write path against pgbench, the middleware against bare axum), `wger` (the
    /// same read and write against wger under gunicorn), `scale` (the analytics job as
    /// one and two processes), `auth`,
    /// `schedule` or `all` (all but `alerts` and `api`).
    #[arg(long, default_value = "all")]
    suite: String,
    /// Concurrent connections of the `api` suite's closed loops.
    #[arg(long, default_value_t = 16)]
    connections: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let id = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut settings = Settings::load(None)?;
    settings.telemetry.log_level = "error".into();
    fitsync_platform::telemetry::init(&settings.telemetry);
    drop_earlier_runs(&settings).await?;
    settings.kafka.topic_prefix = format!("bench{id}.");
    settings.opensearch.index_prefix = format!("bench{id}-");
    settings.database.names.training = format!("bench_{id}_training");
    settings.database.names.progress = format!("bench_{id}_progress");
    settings.database.names.users = format!("bench_{id}_users");
    for name in [
        &settings.database.names.training,
        &settings.database.names.progress,
        &settings.database.names.users,
    ] {
        create_database(&settings, name).await?;
    }
    let training = db::pool(&settings.database, &settings.database.names.training)?;
    let progress = db::pool(&settings.database, &settings.database.names.progress)?;
    db::migrate(
        &training,
        &fitsync_training::MIGRATIONS,
        Duration::from_secs(10),
    )
    .await?;
    db::migrate(
        &progress,
        &fitsync_progress::MIGRATIONS,
        Duration::from_secs(10),
    )
    .await?;

    println!(
        "# FitSync benchmarks ({} events; {} writes/s for {} s after {} s of warm-up)\n",
        args.events, args.rate, args.seconds, args.warmup
    );
    let load = Load {
        rate: args.rate,
        warmup: Duration::from_secs(args.warmup),
        seconds: args.seconds,
    };
    if args.suite == "auth" || args.suite == "all" {
        auth::run(&settings, &progress, args.seconds.min(10)).await?;
    }
    if args.suite == "schedule" || args.suite == "all" {
        schedule::run(&settings, &id).await?;
    }
    if args.suite == "auth" || args.suite == "schedule" {
        return Ok(());
    }
    let binary = match args.fitsync {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("fitsync"),
    };
    if args.suite == "api" {
        return api::run(&settings, &id, &binary, args.seconds, args.connections).await;
    }
    if args.suite == "scale" {
        return scale::run(&settings, &id, &binary, args.events, &load).await;
    }
    if args.suite == "wger" {
        return wger::run(&settings, &id, &binary, args.seconds, args.connections).await;
    }
    if args.suite == "alerts" {
        return alerts::run(&settings, &id, &binary, &load, args.events).await;
    }
    if args.suite == "freshness" {
        return bench_freshness(&settings, &id, &binary, &load).await;
    }
    let relay_rate = bench_relay(&settings, &training, args.events).await?;
    println!(
        "relay            {relay_rate:>10.0} events/s  (outbox → Kafka, {} events)",
        args.events
    );

    let topic = format!("{}fitsync.training", settings.kafka.topic_prefix);
    let raw_rate = bench_raw_consume(&settings, &topic, args.events).await?;
    println!("raw consume      {raw_rate:>10.0} events/s  (rdkafka StreamConsumer, drop)");
    let compute_rate = bench_compute(&settings, &topic, args.events).await?;
    println!(
        "compute path     {compute_rate:>10.0} events/s  (consume + decode + Polars, no sink)"
    );
    println!("compute / raw    {:>10.2}", compute_rate / raw_rate);
    let job_rate = bench_job(&settings, &progress, args.events).await?;
    println!("analytics job    {job_rate:>10.0} events/s  (Kafka → Polars → PostgreSQL)");
    println!("job / raw        {:>10.2}", job_rate / raw_rate);
    let copy_rate = bench_copy(&settings, &progress, &id, args.events).await?;
    println!("binary COPY      {copy_rate:>10.0} events/s  (the rows the job wrote, into the same tables)");
    println!("job / COPY       {:>10.2}", job_rate / copy_rate);

    bench_backfill(&settings, &progress, &id, &binary, args.events).await?;
    bench_freshness(&settings, &id, &binary, &load).await?;
    Ok(())
}

/// Drops the databases of earlier runs: a server holding hundreds of databases spends
/// CPU on them (the autovacuum launcher visits each in turn), which a run would
/// otherwise measure with the rest. One still in use (a run going on beside this one)
/// is left alone.
async fn drop_earlier_runs(settings: &Settings) -> anyhow::Result<()> {
    let admin =
        sqlx::PgPool::connect_with(db::connect_options(&settings.database, "postgres")?).await?;
    let names: Vec<String> =
        sqlx::query_scalar(r"select datname from pg_database where datname like 'bench\_%'")
            .fetch_all(&admin)
            .await?;
    for name in names {
        if let Err(e) = sqlx::query(&format!("drop database if exists \"{name}\""))
            .execute(&admin)
            .await
        {
            eprintln!("kept {name}: {e}");
        }
    }
    Ok(())
}

pub(crate) async fn create_database(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let admin =
        sqlx::PgPool::connect_with(db::connect_options(&settings.database, "postgres")?).await?;
    sqlx::query(&format!("create database \"{name}\""))
        .execute(&admin)
        .await?;
    Ok(())
}

pub(crate) async fn count(pool: &PgPool, sql: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

/// Fills the outbox with `n` realistic `set_logged` events for 200 clients, then times
/// a relay draining it.
pub(crate) async fn bench_relay(
    settings: &Settings,
    training: &PgPool,
    n: i64,
) -> anyhow::Result<f64> {
    sqlx::query(
        "insert into outbox (topic, message_key, payload)
         select 'fitsync.training', c::text, json_build_object(
             'specversion', '1.0', 'id', gen_random_uuid(), 'source', '/fitsync/training',
             'type', 'fitsync.workout.set_logged.v1', 'subject', c::text, 'time', now(),
             'datacontenttype', 'application/json',
             'data', json_build_object('set_id', gen_random_uuid(), 'client_id', c,
                 'exercise', (array['back-squat','bench-press','deadlift'])[1 + i % 3],
                 'reps', 1 + i % 10, 'weight_kg', 60 + (i % 40) * 2.5, 'rir', i % 4,
                 'performed_at', now() - (i % 2000) * interval '1 hour'))
         from generate_series(1, $1) i,
              lateral (select ('00000000-0000-4000-8000-' || lpad((i % 200)::text, 12, '0'))::uuid) as cl(c)",
    )
    .bind(n)
    .execute(training)
    .await?;
    fitsync_platform::kafka::ensure_topics(
        &settings.kafka,
        &[(
            format!("{}fitsync.training", settings.kafka.topic_prefix),
            false,
        )],
    )
    .await?;
    let mut relay_settings = settings.relay.clone();
    relay_settings.batch_size = 5000;
    relay_settings.linger_ms = 5;
    let relay = Relay::new("bench", training.clone(), &settings.kafka, relay_settings)?;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(relay.run(stop.clone()));
    while count(training, "select count(*) from outbox").await? > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    stop.cancel();
    task.await??;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// The baseline: the fastest a consumer of ours can read the topic, doing nothing.
pub(crate) async fn bench_raw_consume(
    settings: &Settings,
    topic: &str,
    n: i64,
) -> anyhow::Result<f64> {
    let consumer: StreamConsumer = fitsync_platform::kafka::client_config(&settings.kafka)
        .set("group.id", format!("raw-{}", Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "5")
        .create()?;
    consumer.subscribe(&[topic])?;
    let started = Instant::now();
    let mut seen = 0i64;
    let mut stream = consumer.stream();
    while seen < n {
        match stream.next().await {
            Some(Ok(_)) => seen += 1,
            Some(Err(e)) => anyhow::bail!("consume: {e}"),
            None => break,
        }
    }
    Ok(seen as f64 / started.elapsed().as_secs_f64())
}

async fn bench_job(settings: &Settings, progress: &PgPool, n: i64) -> anyhow::Result<f64> {
    let job = ProgressAnalytics::new(
        progress.clone(),
        settings.kafka.clone(),
        settings.jobs.clone(),
    )?;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(job.run(stop.clone()));
    while count(progress, "select count(*) from set_facts").await? < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    stop.cancel();
    task.await??;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// The compute path alone: the same consume loop, each 5 000 messages decoded and run
/// through the per-set and per-day Polars plans (off the runtime, as the job does), no
/// sink.
async fn bench_compute(settings: &Settings, topic: &str, n: i64) -> anyhow::Result<f64> {
    let consumer: StreamConsumer = fitsync_platform::kafka::client_config(&settings.kafka)
        .set("group.id", format!("compute-{}", Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "5")
        .create()?;
    consumer.subscribe(&[topic])?;
    let started = Instant::now();
    let (mut seen, mut sets) = (0i64, 0usize);
    let mut batch = Vec::with_capacity(5000);
    let mut stream = consumer.stream();
    while seen < n {
        match stream.next().await {
            Some(Ok(m)) => {
                seen += 1;
                batch.push(m.detach());
            }
            Some(Err(e)) => anyhow::bail!("consume: {e}"),
            None => break,
        }
        if batch.len() == 5000 || seen == n {
            let full = std::mem::take(&mut batch);
            sets +=
                tokio::task::spawn_blocking(move || fitsync_stream_jobs::analytics::compute(&full))
                    .await??;
        }
    }
    anyhow::ensure!(sets as i64 == n, "decoded {sets} sets of {n}");
    Ok(seen as f64 / started.elapsed().as_secs_f64())
}

/// The job's tables, in the order a copy fills them.
const JOB_TABLES: [&str; 7] = [
    "set_facts",
    "exercise_e1rm",
    "weekly_volume",
    "daily_training",
    "daily_e1rm",
    "session_volume",
    "rep_records",
];

/// The baseline of the sink: the rows the job wrote, copied out, then timed as a bare
/// binary `COPY` into the same (empty) tables of a fresh database.
async fn bench_copy(
    settings: &Settings,
    progress: &PgPool,
    id: &str,
    n: i64,
) -> anyhow::Result<f64> {
    let name = format!("bench_{id}_copy");
    create_database(settings, &name).await?;
    let target = db::pool(&settings.database, &name)?;
    db::migrate(
        &target,
        &fitsync_progress::MIGRATIONS,
        Duration::from_secs(10),
    )
    .await?;
    let mut data = Vec::new();
    for table in JOB_TABLES {
        let mut source = progress.acquire().await?;
        let mut out = source
            .copy_out_raw(&format!("copy {table} to stdout (format binary)"))
            .await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = out.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        data.push((table, bytes));
    }
    let started = Instant::now();
    let mut conn = target.acquire().await?;
    for (table, bytes) in &data {
        let mut copy = conn
            .copy_in_raw(&format!("copy {table} from stdin (format binary)"))
            .await?;
        copy.send(bytes.as_slice()).await?;
        copy.finish().await?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// A backfill of the topic the job read, as `fitsync backfill` (its time and peak RSS),
/// against the same aggregations written as SQL over the facts the job stored.
async fn bench_backfill(
    settings: &Settings,
    progress: &PgPool,
    id: &str,
    binary: &PathBuf,
    n: i64,
) -> anyhow::Result<()> {
    let database = format!("bench_{id}_backfill");
    let started = Instant::now();
    let mut child = Child_(
        Command::new(binary)
            .args(["backfill", "--database", &database])
            .env(
                "FITSYNC__DATABASE__URL",
                settings.database.url.expose_secret(),
            )
            .env(
                "FITSYNC__DATABASE__NAMES__PROGRESS",
                &settings.database.names.progress,
            )
            .env("FITSYNC__KAFKA__BROKERS", &settings.kafka.brokers)
            .env("FITSYNC__KAFKA__TOPIC_PREFIX", &settings.kafka.topic_prefix)
            .env("FITSYNC__TELEMETRY__LOG_LEVEL", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?,
    );
    let pid = child.0.id();
    let mut peak = 0.0f64;
    let status = loop {
        peak = peak.max(rss_mib(pid).0);
        if let Some(status) = child.0.try_wait()? {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    anyhow::ensure!(status.success(), "fitsync backfill failed: {status}");
    let backfill = started.elapsed();

    // The same aggregations as SQL, each into a table, over the same facts.
    let sql = [
        "create temp table q_daily as
         select client_id, local_date, count(*) as sets,
                count(*) filter (where failed or rir is null or rir <= 3) as hard_sets, sum(reps) as reps,
                round(sum(weight_kg * reps)::numeric, 2) as volume
         from set_facts where not deleted group by 1, 2",
        "create temp table q_day_e1rm as
         select distinct on (client_id, exercise, local_date) client_id, exercise, local_date, set_id,
                case when reps + coalesce(rir, 0) <= 1 then weight_kg
                     else weight_kg * (1 + (reps + coalesce(rir, 0)) / 30.0) end as e1rm
         from set_facts where not deleted order by client_id, exercise, local_date, 5 desc, performed_at, set_id",
        "create temp table q_best as
         select distinct on (client_id, exercise) * from q_day_e1rm order by client_id, exercise, e1rm desc",
        "create temp table q_records as
         select distinct on (client_id, exercise, reps) client_id, exercise, reps, weight_kg, set_id
         from set_facts where not deleted order by client_id, exercise, reps, weight_kg desc, performed_at, set_id",
        "create temp table q_weeks as
         select client_id, date_trunc('week', local_date)::date as week, round(sum(weight_kg * reps)::numeric, 2), count(*)
         from set_facts where not deleted group by 1, 2",
        "create temp table q_sessions as
         select client_id, local_date, coalesce(workout_id, '00000000-0000-0000-0000-000000000000'::uuid),
                round(sum(weight_kg * reps)::numeric, 2), count(*)
         from set_facts where not deleted group by 1, 2, 3",
    ];
    let mut conn = progress.acquire().await?;
    let started = Instant::now();
    for q in sql {
        sqlx::query(q).execute(&mut *conn).await?;
    }
    let in_sql = started.elapsed();
    println!(
        "backfill         {:>10.0} events/s  ({n} events in {:.1} s, `fitsync backfill` peak RSS {peak:.0} MiB)",
        n as f64 / backfill.as_secs_f64(),
        backfill.as_secs_f64()
    );
    println!(
        "same in SQL      {:>10.0} events/s  ({:.1} s over the stored facts)",
        n as f64 / in_sql.as_secs_f64(),
        in_sql.as_secs_f64()
    );
    println!(
        "backfill / SQL   {:>10.2}",
        in_sql.as_secs_f64() / backfill.as_secs_f64()
    );
    Ok(())
}

/// Peak and current resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

pub(crate) struct Child_(pub Child);

impl Drop for Child_ {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A steady load: `rate` writes per second, `warmup` of them left out of the measures,
/// then `seconds` measured.
pub(crate) struct Load {
    pub rate: u64,
    pub warmup: Duration,
    pub seconds: u64,
}

/// When the run's databases are ANALYZEd (see `Platform::analyze_after`): their tables
/// have rows by then.
pub(crate) const ANALYZE_AFTER: Duration = Duration::from_secs(3);

/// Sends `write(n)` for n = 0, 1, 2, … at the load's steady rate through its warm-up
/// and its measured seconds (late ticks catch up in a burst), calling `sent(n + 1)` after
/// each; every answer must be 201. Returns when the measured phase began, how many were
/// sent and the rate achieved.
pub(crate) async fn steady_writes<W, F>(
    load: &Load,
    mut write: W,
    mut sent_one: impl FnMut(u64),
) -> anyhow::Result<(chrono::DateTime<chrono::Utc>, u64, f64)>
where
    W: FnMut(u64) -> F,
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let total = load.warmup + Duration::from_secs(load.seconds);
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / load.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut measured_from = None;
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let mut sent = 0u64;
    while started.elapsed() < total {
        tokio::select! {
            _ = ticker.tick() => {
                if measured_from.is_none() && started.elapsed() >= load.warmup {
                    measured_from = Some(chrono::Utc::now());
                }
                in_flight.push(write(sent));
                sent += 1;
                sent_one(sent);
            }
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let response = done?;
                let status = response.status();
                if status.as_u16() != 201 {
                    let body = response.text().await.unwrap_or_default();
                    anyhow::bail!("write failed: {status} {body}");
                }
            }
        }
    }
    while let Some(done) = in_flight.next().await {
        anyhow::ensure!(done?.status().as_u16() == 201, "write failed");
    }
    let achieved = sent as f64 / started.elapsed().as_secs_f64();
    Ok((measured_from.context("no steady phase")?, sent, achieved))
}

/// A `fitsync run --target …` child process on databases, topics and indexes of its
/// own (`tag` tells runs apart), ready.
pub(crate) struct Platform {
    pub api: String,
    pub http: reqwest::Client,
    pub pid: u32,
    /// (service, database) as in `FITSYNC__DATABASE__NAMES__<SERVICE>`.
    pub names: [(&'static str, String); 5],
    _child: Child_,
}

impl Platform {
    /// The whole platform in one process (`--target all`).
    pub async fn start(
        settings: &Settings,
        id: &str,
        tag: &str,
        binary: &PathBuf,
    ) -> anyhow::Result<Self> {
        Self::start_targets(settings, id, tag, binary, "all", &[]).await
    }

    /// `targets` (as `--target` takes them, e.g. `users,training`) in one process, with
    /// `extra` settings (`FITSYNC__…` variables).
    pub async fn start_targets(
        settings: &Settings,
        id: &str,
        tag: &str,
        binary: &PathBuf,
        targets: &str,
        extra: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let names = [
            ("USERS", format!("bench_{id}_{tag}u")),
            ("TRAINING", format!("bench_{id}_{tag}t")),
            ("PROGRESS", format!("bench_{id}_{tag}p")),
            // Every service's database its own: the run's access projections must not
            // write into the local platform's.
            ("SCHEDULE", format!("bench_{id}_{tag}s")),
            ("NOTIFICATIONS", format!("bench_{id}_{tag}n")),
        ];
        for (_, name) in &names {
            create_database(settings, name).await?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut env: HashMap<String, String> = names
            .iter()
            .map(|(k, v)| (format!("FITSYNC__DATABASE__NAMES__{k}"), v.clone()))
            .collect();
        env.insert(
            "FITSYNC__DATABASE__URL".into(),
            settings.database.url.expose_secret().to_owned(),
        );
        env.insert(
            "FITSYNC__KAFKA__BROKERS".into(),
            settings.kafka.brokers.clone(),
        );
        env.insert("FITSYNC__KAFKA__TOPIC_PREFIX".into(), format!("{tag}{id}."));
        env.insert(
            "FITSYNC__OPENSEARCH__URL".into(),
            settings.opensearch.url.clone(),
        );
        env.insert(
            "FITSYNC__OPENSEARCH__INDEX_PREFIX".into(),
            format!("{tag}{id}-"),
        );
        if targets != "all" {
            // Outside `all` the users service must be given its keys (as a deployment's
            // processes share them).
            env.insert(
                "FITSYNC__AUTH__SIGNING_KEY_PEM".into(),
                fitsync_platform::auth::generate_pem()?,
            );
            env.insert(
                "FITSYNC__AUTH__EMAIL_TOKEN_KEY".into(),
                fitsync_platform::sealed::generate_key()?,
            );
        }
        env.insert("FITSYNC__SERVER__BIND".into(), format!("127.0.0.1:{port}"));
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        env.insert("FITSYNC__TELEMETRY__LOG_LEVEL".into(), "error".into());
        // Many accounts from one address in a few seconds is the benchmark, not an attack.
        env.insert(
            "FITSYNC__AUTH__LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE".into(),
            "10000".into(),
        );
        if targets != "all" {
            // `all` migrates as it starts; other targets leave it to `migrate` (a Job
            // before a deployment's pods).
            let migrated = Command::new(binary)
                .arg("migrate")
                .envs(&env)
                .stdout(Stdio::null())
                .status()?;
            anyhow::ensure!(migrated.success(), "fitsync migrate failed");
        }
        // Its log (errors only) beside the run's other files, for a failed write.
        let log = std::env::temp_dir().join(format!("fitsync-bench-{tag}{id}.log"));
        let child = Child_(
            Command::new(binary)
                .args(["run", "--target", targets])
                .envs(&env)
                .stdout(std::fs::File::create(&log)?)
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?,
        );
        let pid = child.0.id();
        let api = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(128)
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http
            .get(format!("{api}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            anyhow::ensure!(Instant::now() < deadline, "fitsync did not become ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(Self {
            api,
            http,
            pid,
            names,
            _child: child,
        })
    }

    pub fn pool(&self, settings: &Settings, service: &str) -> anyhow::Result<PgPool> {
        let name = &self
            .names
            .iter()
            .find(|(s, _)| *s == service)
            .context("a service")?
            .1;
        Ok(db::pool(&settings.database, name)?)
    }

    /// ANALYZEs every database of the run `after` the steady writes begin (in the
    /// background). A production database has statistics; these are new, and a
    /// statement first run while its table was empty keeps a plan made for an empty table
    /// (a sequential scan, cached by the connection) until autovacuum's ANALYZE happens
    /// to replace it — which made one run's job batches 3× slower than the next's.
    pub fn analyze_after(
        &self,
        settings: &Settings,
        after: Duration,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let pools = self
            .names
            .iter()
            .map(|(service, _)| self.pool(settings, service))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(tokio::spawn(async move {
            tokio::time::sleep(after).await;
            for pool in pools {
                if let Err(e) = sqlx::query("analyze").execute(&pool).await {
                    eprintln!("analyze failed: {e}");
                }
            }
        }))
    }

    /// Registers `email` as `role` and signs in: (id, access token).
    pub async fn account(&self, email: &str, role: &str) -> anyhow::Result<(Uuid, String)> {
        self.http
            .post(format!("{}/api/auth/register", self.api))
            .json(&json!({"email": email, "password": "benchmark password",
                          "display_name": "Bench", "role": role}))
            .send()
            .await?
            .error_for_status()?;
        let body: Value = self
            .http
            .post(format!("{}/api/auth/token", self.api))
            .form(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", "benchmark password"),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = body["access_token"].as_str().context("token")?.to_owned();
        let me: Value = self
            .http
            .get(format!("{}/api/users/me", self.api))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok((me["id"].as_str().context("id")?.parse()?, token))
    }
}

/// Steady writes through the API of a `fitsync run --target all` process; freshness is
/// the time from a set's insert (clock_timestamp() in trainingdb, just before commit)
/// to its fact row (clock_timestamp() in progressdb, just before that commit).
async fn bench_freshness(
    settings: &Settings,
    id: &str,
    binary: &PathBuf,
    load: &Load,
) -> anyhow::Result<()> {
    let platform = Platform::start(settings, id, "f", binary).await?;
    let (api, http, pid) = (platform.api.clone(), platform.http.clone(), platform.pid);
    let mut tokens = Vec::new();
    for i in 0..50 {
        let (_, token) = platform
            .account(&format!("bench{i}@example.com"), "client")
            .await?;
        tokens.push(token);
    }

    let mut peak_rss_under_load = 0.0f64;
    let analyzed = platform.analyze_after(settings, ANALYZE_AFTER)?;
    let (measured_from, sent, achieved) = steady_writes(
        load,
        |n| {
            http.post(format!("{api}/api/workouts/sets"))
                .bearer_auth(&tokens[(n % 50) as usize])
                .json(&json!({"exercise": "back-squat", "reps": 1 + n % 8, "weight_kg": 100.0 + (n % 20) as f64 * 2.5}))
                .send()
        },
        |n| {
            if n.is_multiple_of(load.rate) {
                peak_rss_under_load = peak_rss_under_load.max(rss_mib(pid).1);
            }
        },
    )
    .await?;
    analyzed.await?;
    let training = platform.pool(settings, "TRAINING")?;
    let progress = platform.pool(settings, "PROGRESS")?;
    let (histogram, measured) = freshness(&training, &progress, measured_from, sent).await?;
    let (peak, _) = rss_mib(pid);
    drop(platform);

    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "freshness        p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} writes measured, {achieved:.0} writes/s offered)",
        ms(0.5),
        ms(0.99),
        histogram.max() as f64 / 1000.0,
        measured
    );
    println!("fitsync all RSS  {peak_rss_under_load:.0} MiB under load, peak {peak:.0} MiB");
    Ok(())
}

/// Waits (up to 120 s) until `progress` has counted the `sent` sets, then returns the
/// freshness (`counted_at` − `logged_at`, µs) of each set written from `from` on, and
/// how many those are.
pub(crate) async fn freshness(
    training: &PgPool,
    progress: &PgPool,
    from: chrono::DateTime<chrono::Utc>,
    sent: u64,
) -> anyhow::Result<(Histogram<u64>, usize)> {
    let wait = Instant::now();
    while count(progress, "select count(*) from set_facts").await? < i64::try_from(sent)? {
        anyhow::ensure!(
            wait.elapsed() < Duration::from_secs(120),
            "analytics did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let written: Vec<(Uuid, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select id, logged_at from workout_sets where logged_at >= $1")
            .bind(from)
            .fetch_all(training)
            .await?;
    let counted: HashMap<Uuid, chrono::DateTime<chrono::Utc>> =
        sqlx::query_as("select set_id, counted_at from set_facts")
            .fetch_all(progress)
            .await?
            .into_iter()
            .collect();
    let mut histogram = Histogram::<u64>::new(3)?;
    for (set, logged) in &written {
        let at = counted
            .get(set)
            .context("a written set was never counted")?;
        let micros = (*at - *logged).num_microseconds().unwrap_or(0).max(0);
        histogram.record(u64::try_from(micros)?)?;
    }
    Ok((histogram, written.len()))
}
