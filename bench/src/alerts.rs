//! Alerts (`--suite alerts`):
//!
//! 1. **latency** — a `fitsync run --target all` child process; 50 trainers, each with
//!    one client and the record alert's cooldown set to 0, hold their alert streams
//!    (`GET /api/notifications/stream`) open; the clients write sets at a steady rate
//!    through the API, each heavier than the last, so each is a personal record unless a
//!    heavier one of the same client reaches the analytics job in the same micro-batch.
//!    For every alert received in the measured phase: its arrival on the stream (this
//!    process's clock) minus the set's `logged_at` (`clock_timestamp()` in trainingdb just
//!    before the write commits; the same machine's clock). The path: training outbox →
//!    relay → Kafka → analytics job (Polars, PostgreSQL, its own outbox) → relay → Kafka
//!    → alerts job → NOTIFY → the stream.
//! 2. **throughput** — N record signals (200 clients, one trainer each, every one its own
//!    exercise, so no cooldown holds one back) produced to a topic; a raw rdkafka
//!    consume-and-drop loop over it (baseline), then the real alerts job into a fresh
//!    notificationdb, timed until all N alerts are stored. Reported as a ratio.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use fitsync_platform::{db, Settings};
use fitsync_stream_jobs::AlertsJob;
use futures::StreamExt;
use hdrhistogram::Histogram;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    bench_raw_consume, count, create_database, steady_writes, usage, Load, Platform, ANALYZE_AFTER,
};

const PAIRS: usize = 50;

/// Each streamed alert's set and when it arrived.
type Arrivals = Arc<Mutex<Vec<(Uuid, DateTime<Utc>)>>>;

pub async fn run(
    settings: &Settings,
    id: &str,
    binary: &PathBuf,
    load: &Load,
    events: i64,
) -> anyhow::Result<()> {
    latency(settings, id, binary, load).await?;
    throughput(settings, id, events).await
}

/// Reads one trainer's stream, noting each alert's set and arrival.
async fn listen(
    http: reqwest::Client,
    url: String,
    token: String,
    arrivals: Arrivals,
    ready: tokio::sync::mpsc::Sender<()>,
) -> anyhow::Result<()> {
    let mut response = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?;
    ready.send(()).await.ok();
    let mut buf = String::new();
    while let Some(chunk) = response.chunk().await? {
        let now = Utc::now();
        buf.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data:")) {
                let item: Value = serde_json::from_str(data.trim_start())?;
                if let Some(set) = item["data"]["set_id"].as_str() {
                    arrivals.lock().unwrap().push((set.parse()?, now));
                }
            }
        }
    }
    Ok(())
}

async fn latency(
    settings: &Settings,
    id: &str,
    binary: &PathBuf,
    load: &Load,
) -> anyhow::Result<()> {
    let platform = Platform::start(settings, id, "a", binary).await?;
    let users = platform.pool(settings, "USERS")?;
    let progress = platform.pool(settings, "PROGRESS")?;
    let training = platform.pool(settings, "TRAINING")?;
    let notifications = platform.pool(settings, "NOTIFICATIONS")?;
    let api = platform.api.clone();
    let http = platform.http.clone();
    let mut pairs = Vec::new();
    for i in 0..PAIRS {
        let trainer = platform
            .account(&format!("coach{i}@example.com"), "trainer")
            .await?;
        let client = platform
            .account(&format!("athlete{i}@example.com"), "client")
            .await?;
        pairs.push((trainer, client));
    }
    // Verified addresses, as the tests' accounts (linking needs them); no email is sent:
    // the notifications service learns no address this way.
    sqlx::query("update users set email_verified_at = now()")
        .execute(&users)
        .await?;
    for ((_, trainer), (client_id, client)) in &pairs {
        let link: Value = http
            .post(format!("{api}/api/users/relationships"))
            .bearer_auth(trainer)
            .json(&json!({"client_id": client_id}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        http.post(format!(
            "{api}/api/users/relationships/{}/accept",
            link["id"].as_str().context("link")?
        ))
        .bearer_auth(client)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?;
    }
    for ((trainer_id, _), _) in &pairs {
        sqlx::query(
            "insert into alert_settings (trainer_id, client_id, rule, enabled, cooldown_minutes)
             values ($1, '00000000-0000-0000-0000-000000000000', 'personal_record', true, 0)",
        )
        .bind(trainer_id)
        .execute(&notifications)
        .await?;
    }
    let wait = Instant::now();
    while count(
        &progress,
        "select count(*) from coaching_facts where ended_at is null",
    )
    .await?
        < PAIRS as i64
    {
        anyhow::ensure!(
            wait.elapsed() < Duration::from_secs(60),
            "no coaching facts"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let arrivals: Arrivals = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, mut ready) = tokio::sync::mpsc::channel(PAIRS);
    let mut streams = Vec::new();
    for ((_, trainer), _) in &pairs {
        streams.push(tokio::spawn(listen(
            http.clone(),
            format!("{api}/api/notifications/stream"),
            trainer.clone(),
            arrivals.clone(),
            ready_tx.clone(),
        )));
    }
    for _ in 0..PAIRS {
        ready.recv().await.context("a stream")?;
    }

    let scrape = {
        let (http, url) = (http.clone(), format!("{api}/metrics"));
        move || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let text = http.get(url).send().await?.text().await?;
                anyhow::Ok(usage::metrics(&text))
            }
        }
    };
    let analyzed = platform.analyze_after(settings, ANALYZE_AFTER)?;
    // The CPU and the jobs' batches are read over the measured phase only.
    let measured = tokio::spawn({
        let (scrape, warmup) = (scrape.clone(), load.warmup);
        async move {
            tokio::time::sleep(warmup).await;
            anyhow::Ok((usage::Cpu::sample(), scrape().await?, Instant::now()))
        }
    });
    let (from, sent, achieved) = steady_writes(
        load,
        |n| {
            let (_, client) = &pairs[(n % PAIRS as u64) as usize].1;
            // Each client's sets heavier by 0.5 kg each time: every one a record.
            let kg = 60.0 + 0.5 * (n / PAIRS as u64) as f64;
            http.post(format!("{api}/api/workouts/sets"))
                .bearer_auth(client)
                .json(&json!({"exercise": "back-squat", "reps": 5, "weight_kg": kg}))
                .send()
        },
        |_| {},
    )
    .await?;
    let (cpu_after, metrics_after) = (usage::Cpu::sample(), scrape().await?);
    let (cpu_before, metrics_before, phase) = measured.await??;
    analyzed.await?;
    let phase = phase.elapsed().as_secs_f64();
    println!(
        "cpu while writing: {}",
        usage::describe(&cpu_before, &cpu_after)
    );
    for line in usage::batches(&metrics_before, &metrics_after, phase)
        .into_iter()
        .chain(usage::freshness(&metrics_before, &metrics_after))
    {
        println!("  {line}");
    }
    // Every write counted, then the alerts of every record stored and streamed.
    let wait = Instant::now();
    while count(&progress, "select count(*) from set_facts").await? < sent as i64 {
        anyhow::ensure!(
            wait.elapsed() < Duration::from_secs(120),
            "analytics did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Then until the stored alerts stop growing and every one has been streamed.
    let wait = Instant::now();
    let (mut last, mut stable_since) = (-1i64, Instant::now());
    loop {
        let stored = count(&notifications, "select count(*) from inbox").await?;
        let streamed = arrivals.lock().unwrap().len() as i64;
        if stored != last {
            (last, stable_since) = (stored, Instant::now());
        } else if stored > 0
            && streamed == stored
            && stable_since.elapsed() > Duration::from_secs(2)
        {
            break;
        }
        anyhow::ensure!(
            wait.elapsed() < Duration::from_secs(120),
            "alerts did not catch up ({streamed} streamed of {stored} stored)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for s in streams {
        s.abort();
    }
    let logged: HashMap<Uuid, DateTime<Utc>> =
        sqlx::query_as("select id, logged_at from workout_sets where logged_at >= $1")
            .bind(from)
            .fetch_all(&training)
            .await?
            .into_iter()
            .collect();
    let mut histogram = Histogram::<u64>::new(3)?;
    for (set, at) in arrivals.lock().unwrap().iter() {
        if let Some(written) = logged.get(set) {
            let micros = (*at - *written).num_microseconds().unwrap_or(0).max(0);
            histogram.record(u64::try_from(micros)?)?;
        }
    }
    anyhow::ensure!(!histogram.is_empty(), "no alert in the measured phase");
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "alert latency    p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  ({} alerts of {} writes measured, {achieved:.0} writes/s offered; write commit → SSE)",
        ms(0.5),
        ms(0.99),
        histogram.max() as f64 / 1000.0,
        histogram.len(),
        logged.len(),
    );
    let arrivals = arrivals.lock().unwrap().clone();
    stages(settings, id, &logged, &arrivals, &progress, &notifications).await?;
    drop(platform);
    Ok(())
}

/// Where each measured alert's time went, from the stamps the path leaves: the set's
/// commit (`logged_at`), its event's Kafka timestamp (the relay's produce), the analytics
/// job's insert of the set's facts (`set_facts.counted_at`, `clock_timestamp()` partway
/// through the job's transaction), the record signal's Kafka timestamp, the alerts
/// transaction's start (`inbox.delivered_at`) and the arrival on the stream. Kafka's
/// stamps are in milliseconds; the rest in microseconds; all one machine's clock.
async fn stages(
    settings: &Settings,
    id: &str,
    logged: &HashMap<Uuid, DateTime<Utc>>,
    arrivals: &[(Uuid, DateTime<Utc>)],
    progress: &sqlx::PgPool,
    notifications: &sqlx::PgPool,
) -> anyhow::Result<()> {
    let prefix = format!("a{id}.fitsync");
    let produced = produced_at(settings, &format!("{prefix}.training")).await?;
    let signalled = produced_at(settings, &format!("{prefix}.alerts")).await?;
    let counted: HashMap<Uuid, DateTime<Utc>> =
        sqlx::query_as("select set_id, counted_at from set_facts")
            .fetch_all(progress)
            .await?
            .into_iter()
            .collect();
    let stored: HashMap<Uuid, DateTime<Utc>> = sqlx::query_as(
        "select (data->>'set_id')::uuid, delivered_at from inbox where data ? 'set_id'",
    )
    .fetch_all(notifications)
    .await?
    .into_iter()
    .collect();
    const NAMES: [&str; 5] = [
        "commit → relay's produce",
        "→ analytics stores its facts",
        "→ record signal produced",
        "→ alerts transaction starts",
        "→ on the stream",
    ];
    let mut rows: Vec<(f64, [f64; 5])> = Vec::new();
    for (set, at) in arrivals {
        let stamps = [
            logged.get(set),
            produced.get(set),
            counted.get(set),
            signalled.get(set),
            stored.get(set),
        ];
        let [Some(a), Some(b), Some(c), Some(d), Some(e)] = stamps else {
            continue;
        };
        let times = [a, b, c, d, e, at];
        let ms = |x: &DateTime<Utc>, y: &DateTime<Utc>| {
            (*y - *x).num_microseconds().unwrap_or(0) as f64 / 1000.0
        };
        let mut parts = [0.0; 5];
        for (i, part) in parts.iter_mut().enumerate() {
            *part = ms(times[i], times[i + 1]);
        }
        rows.push((ms(a, at), parts));
    }
    anyhow::ensure!(!rows.is_empty(), "no alert with all its stamps");
    rows.sort_by(|x, y| x.0.total_cmp(&y.0));
    // The slowest 1 % against the rest: which stage makes the tail.
    let tail = rows.len() - (rows.len() / 100).max(1);
    let mean = |rows: &[(f64, [f64; 5])], i: usize| {
        rows.iter().map(|r| r.1[i]).sum::<f64>() / rows.len() as f64
    };
    println!(
        "  stages (ms; {} alerts of {} with every stamp): mean of all, mean of the slowest 1 %",
        rows.len(),
        arrivals
            .iter()
            .filter(|(set, _)| logged.contains_key(set))
            .count()
    );
    for (i, name) in NAMES.iter().enumerate() {
        println!(
            "    {name:<32} {:>7.1} {:>7.1}",
            mean(&rows, i),
            mean(&rows[tail..], i)
        );
    }
    Ok(())
}

/// Each set's (`data.set_id`) first Kafka timestamp on `topic`, read from the start.
async fn produced_at(
    settings: &Settings,
    topic: &str,
) -> anyhow::Result<HashMap<Uuid, DateTime<Utc>>> {
    use rdkafka::{
        consumer::{Consumer, StreamConsumer},
        Message,
    };
    let consumer: StreamConsumer = fitsync_platform::kafka::client_config(&settings.kafka)
        .set("group.id", format!("stamps-{}", Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[topic])?;
    let mut stamps = HashMap::new();
    // The topic is read to its end: nothing more arrives within 3 s (the local broker
    // assigns a new group at once: `group.initial.rebalance.delay.ms` 0). An alert whose
    // stamps are not all found is left out of the stages, and the count printed shows it.
    while let Ok(m) = tokio::time::timeout(Duration::from_secs(3), consumer.recv()).await {
        let m = m?;
        let (Some(ms), Some(payload)) = (m.timestamp().to_millis(), m.payload()) else {
            continue;
        };
        let event: Value = serde_json::from_slice(payload)?;
        if let Some(set) = event["data"]["set_id"].as_str() {
            let at = DateTime::from_timestamp_millis(ms).context("a timestamp")?;
            stamps.entry(set.parse()?).or_insert(at);
        }
    }
    Ok(stamps)
}

async fn throughput(settings: &Settings, id: &str, n: i64) -> anyhow::Result<()> {
    let topic = format!("{}fitsync.alerts", settings.kafka.topic_prefix);
    // Every topic the job reads (only the first gets messages).
    let topics: Vec<(String, bool)> = ["alerts", "schedule", "training", "notifications"]
        .iter()
        .map(|t| (format!("{}fitsync.{t}", settings.kafka.topic_prefix), false))
        .collect();
    fitsync_platform::kafka::ensure_topics(&settings.kafka, &topics).await?;
    let producer: FutureProducer =
        fitsync_platform::kafka::producer_config(&settings.kafka).create()?;
    let now = Utc::now();
    let mut pending = futures::stream::FuturesUnordered::new();
    for i in 0..n {
        let client = Uuid::from_u128(0x4000_8000_0000_0000_0000 + (i % 200) as u128);
        let trainer = Uuid::from_u128(0x5000_8000_0000_0000_0000 + (i % 200) as u128);
        let event = json!({
            "specversion": "1.0", "id": Uuid::now_v7(), "source": "/fitsync/analytics",
            "type": fitsync_events::PERSONAL_RECORD_V1, "subject": client.to_string(),
            "time": now, "datacontenttype": "application/json",
            "data": {"client_id": client, "exercise": format!("exercise-{i}"),
                     "e1rm_kg": 120.0, "previous_kg": 110.0, "set_id": Uuid::now_v7(),
                     "achieved_at": now, "trainers": [trainer]},
        });
        let payload = serde_json::to_vec(&event)?;
        let key = client.to_string();
        let producer = producer.clone();
        let topic = topic.clone();
        pending.push(async move {
            producer
                .send(
                    FutureRecord::to(&topic).key(&key).payload(&payload),
                    Duration::from_secs(30),
                )
                .await
                .map_err(|(e, _)| e)
        });
        if pending.len() >= 10_000 {
            while let Some(r) = pending.next().await {
                r?;
            }
        }
    }
    while let Some(r) = pending.next().await {
        r?;
    }
    let raw = bench_raw_consume(settings, &topic, n).await?;
    println!(
        "raw consume      {raw:>10.0} events/s  (rdkafka StreamConsumer, drop; {n} record signals)"
    );

    let name = format!("bench_{id}_alerts");
    create_database(settings, &name).await?;
    let pool = db::pool(&settings.database, &name)?;
    db::migrate(
        &pool,
        &fitsync_notifications::MIGRATIONS,
        Duration::from_secs(10),
    )
    .await?;
    let job = AlertsJob::new(pool.clone(), settings.kafka.clone(), settings.jobs.clone())?;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(job.run(stop.clone()));
    while count(&pool, "select count(*) from inbox").await? < n {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the alerts job did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    stop.cancel();
    task.await??;
    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "alerts job       {rate:>10.0} alerts/s  (Kafka → rules, dedup, cooldown → notificationdb)"
    );
    println!("alerts / raw     {:>10.2}", rate / raw);
    Ok(())
}
