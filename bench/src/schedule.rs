//! The schedule service under load, served in this process on the real PostgreSQL and
//! Redis, each figure beside a baseline from the same run:
//!
//! - free-slot queries per second, cold (every request a distinct range: computed) and
//!   cached (the same ranges again: Redis), against `pgbench` running the bare SQL of
//!   the busy-sessions query the cold path runs, at the same concurrency;
//! - 1:1 bookings per second with 400 clients racing for 16 slots, against `pgbench`
//!   running the same lock-then-insert transaction alone.

use std::{
    path::PathBuf,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{NaiveTime, Utc};
use fitsync_platform::{
    auth::{Authenticator, KeySet, Revocations, Verifier},
    db, Role, Settings,
};
use hdrhistogram::Histogram;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const CONCURRENCY: usize = 16;
const CLIENTS: usize = 400;
const SLOTS: usize = 16;

pub async fn run(settings: &Settings, id: &str) -> anyhow::Result<()> {
    let name = format!("bench_{id}_schedule");
    crate::create_database(settings, &name).await?;
    let pool = db::pool(&settings.database, &name)?;
    db::migrate(
        &pool,
        &fitsync_schedule::MIGRATIONS,
        Duration::from_secs(10),
    )
    .await?;
    let trainer = Uuid::new_v4();
    let (session_type, clients) = world(&pool, trainer).await?;

    let keys = Arc::new(KeySet::from_settings(&settings.auth, true)?);
    let redis = fitsync_platform::redis::connect(&settings.redis).await?;
    let prefix = format!("bench{id}:");
    let auth = Arc::new(Authenticator::new(
        Verifier::Local(keys.clone()),
        Revocations::new(redis.clone(), prefix.clone()),
    ));
    let mut schedule = settings.schedule.clone();
    schedule.webhook_secret = Some(fitsync_platform::sealed::generate_key()?.into());
    let gateway = Arc::new(fitsync_schedule::SimulatedGateway::from_settings(
        &schedule,
        "http://127.0.0.1",
        "http://127.0.0.1/api/payments/webhook",
        false,
    )?);
    let router = fitsync_schedule::router(fitsync_schedule::ScheduleState {
        pool: pool.clone(),
        auth,
        cache: fitsync_schedule::SlotCache {
            redis,
            prefix,
            ttl_secs: 600,
        },
        gateway,
    });
    let stop = CancellationToken::new();
    let url = crate::auth::serve(router.into(), &stop).await?;
    let tokens: Vec<String> = clients
        .iter()
        .map(|c| keys.issue(*c, Role::Client, None).map(|(t, _)| t))
        .collect::<Result<_, _>>()?;

    // 1000 distinct ranges (a start day and a length of 7-10 days).
    let ranges: Vec<String> = (0..1000)
        .map(|i| {
            let from = Utc::now().date_naive() + chrono::Duration::days(1 + (i % 250));
            let to = from + chrono::Duration::days(6 + i / 250);
            format!("{url}/api/availability/{trainer}/slots?session_type_id={session_type}&from={from}&to={to}")
        })
        .collect();
    let before = cache_counts();
    let cold = drive(&ranges, &tokens[0], 1).await?;
    let middle = cache_counts();
    let cached = drive(&ranges, &tokens[0], 3).await?;
    let after = cache_counts();
    let sql = pgbench(
        settings,
        &name,
        &format!(
            "\\set d random(1, 250)\n\
             select lower(period), lower(blocked), upper(blocked) from sessions \
             where trainer_id = '{trainer}' and status = 'scheduled' \
             and blocked && tstzrange(now() + make_interval(days => :d), now() + make_interval(days => :d + 10)) \
             and (null::uuid is null or id <> null::uuid);\n"
        ),
        &["-T", "10"],
    )?;
    println!(
        "slots, cold      {:>10.0} req/s  p50 {:.1} ms, p99 {:.1} ms  ({} misses, {} hits: rules, sessions, computed)",
        cold.rate, cold.p50, cold.p99, middle.1 - before.1, middle.0 - before.0
    );
    println!(
        "slots, cached    {:>10.0} req/s  p50 {:.1} ms, p99 {:.1} ms  ({} hits, {} misses: Redis)",
        cached.rate,
        cached.p50,
        cached.p99,
        after.0 - middle.0,
        after.1 - middle.1
    );
    println!("slots SQL        {sql:>10.0} tx/s   (pgbench: the busy-sessions query alone, {CONCURRENCY} clients)");
    println!("cached / cold    {:>10.2}", cached.rate / cold.rate);
    println!("cold / SQL       {:>10.2}", cold.rate / sql);

    // 400 clients race for the 16 hourly slots of one day, 16 at a time.
    let day = Utc::now().date_naive() + chrono::Duration::days(300);
    let started = Instant::now();
    let mut histogram = Histogram::<u64>::new(3)?;
    let (mut booked, mut refused) = (0, 0);
    let http = reqwest::Client::new();
    let mut next = 0;
    while next < CLIENTS {
        let batch: Vec<_> = (next..(next + CONCURRENCY).min(CLIENTS))
            .map(|i| {
                let slot = (i * 7) % SLOTS;
                let starts_at = day
                    .and_time(NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default())
                    .and_utc()
                    + chrono::Duration::hours(slot as i64);
                let request = http
                    .post(format!("{url}/api/bookings"))
                    .bearer_auth(&tokens[i])
                    .json(&serde_json::json!({"trainer_id": trainer, "session_type_id": session_type, "starts_at": starts_at}));
                async move {
                    let t = Instant::now();
                    let status = request.send().await.map(|r| r.status().as_u16());
                    (status, t.elapsed())
                }
            })
            .collect();
        for (status, took) in futures::future::join_all(batch).await {
            histogram.record(took.as_micros() as u64)?;
            match status? {
                201 => booked += 1,
                409 => refused += 1,
                other => anyhow::bail!("a booking answered {other}"),
            }
        }
        next += CONCURRENCY;
    }
    let bookings_rate = CLIENTS as f64 / started.elapsed().as_secs_f64();
    sqlx::query("create table bench_claims (slot integer primary key, client integer not null)")
        .execute(&pool)
        .await?;
    let per_client = (CLIENTS / CONCURRENCY).to_string();
    let claims = pgbench(
        settings,
        &name,
        &format!(
            "\\set slot random(1, {SLOTS})\n\\set client random(1, 1000000)\n\
             begin;\n\
             select generation from trainer_schedules where trainer_id = '{trainer}' for update;\n\
             insert into bench_claims (slot, client) values (:slot, :client) on conflict (slot) do nothing;\n\
             update trainer_schedules set generation = generation + 1 where trainer_id = '{trainer}';\n\
             commit;\n"
        ),
        &["-t", &per_client],
    )?;
    println!(
        "bookings         {bookings_rate:>10.0} req/s  p50 {:.1} ms, p99 {:.1} ms  ({CLIENTS} clients, {SLOTS} slots: {booked} booked, {refused} refused)",
        histogram.value_at_quantile(0.5) as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / 1000.0
    );
    println!("booking SQL      {claims:>10.0} tx/s   (pgbench: lock the trainer, insert, bump; {CONCURRENCY} clients)");
    println!("bookings / SQL   {:>10.2}", bookings_rate / claims);
    stop.cancel();
    Ok(())
}

/// A trainer with hours every day 06:00-22:00 UTC and three sessions a day for the next
/// 250 days, a 60-minute 1:1 type, and 400 clients they train (an access projection
/// kept fresh for the run).
async fn world(pool: &PgPool, trainer: Uuid) -> anyhow::Result<(Uuid, Vec<Uuid>)> {
    sqlx::query(
        "insert into trainer_schedules (trainer_id, time_zone, horizon_days, slot_step_min)
         values ($1, 'UTC', 730, 15)",
    )
    .bind(trainer)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into availability_rules (trainer_id, weekday, starts, ends)
         select $1, d, '06:00', '22:00' from generate_series(1, 7) d",
    )
    .bind(trainer)
    .execute(pool)
    .await?;
    let session_type = Uuid::new_v4();
    sqlx::query(
        "insert into session_types (id, owner_kind, owner_id, name, kind, duration_min, capacity)
         values ($1, 'trainer', $2, 'PT', 'one_on_one', 60, 1)",
    )
    .bind(session_type)
    .bind(trainer)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into sessions (id, session_type_id, trainer_id, kind, period, blocked, capacity, booked)
         select gen_random_uuid(), $1, $2, 'one_on_one', r, r, 1, 1
         from generate_series(1, 250) d, unnest(array[8, 13, 19]) h,
              lateral (select tstzrange(date_trunc('day', now()) + make_interval(days => d, hours => h),
                                        date_trunc('day', now()) + make_interval(days => d, hours => h + 1)) r) x",
    )
    .bind(session_type)
    .bind(trainer)
    .execute(pool)
    .await?;
    let clients: Vec<Uuid> = (0..CLIENTS).map(|_| Uuid::new_v4()).collect();
    sqlx::query(
        "insert into access_grants (kind, grantee, subject, active, changed_at, version)
         select 'trainer', $1, c, true, now(), 1 from unnest($2::uuid[]) c",
    )
    .bind(trainer)
    .bind(&clients)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into access_freshness (topic, partition, partitions, as_of)
         values ('bench', 0, 1, now() + interval '1 hour')",
    )
    .execute(pool)
    .await?;
    Ok((session_type, clients))
}

struct Load {
    rate: f64,
    p50: f64,
    p99: f64,
}

/// `passes` passes over `urls`, 16 requests at a time; requests/s and latency.
async fn drive(urls: &[String], token: &str, passes: usize) -> anyhow::Result<Load> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let mut histogram = Histogram::<u64>::new(3)?;
    let started = Instant::now();
    for _ in 0..passes {
        for chunk in urls.chunks(CONCURRENCY) {
            let batch = chunk.iter().map(|url| {
                let request = http.get(url).bearer_auth(token);
                async move {
                    let t = Instant::now();
                    let response = request.send().await?;
                    anyhow::ensure!(
                        response.status().is_success(),
                        "slots: {}",
                        response.status()
                    );
                    response.bytes().await?;
                    Ok(t.elapsed())
                }
            });
            for took in futures::future::join_all(batch).await {
                histogram.record(took?.as_micros() as u64)?;
            }
        }
    }
    Ok(Load {
        rate: (urls.len() * passes) as f64 / started.elapsed().as_secs_f64(),
        p50: histogram.value_at_quantile(0.5) as f64 / 1000.0,
        p99: histogram.value_at_quantile(0.99) as f64 / 1000.0,
    })
}

/// The slot cache's (hits, misses) so far, from this process's metrics.
fn cache_counts() -> (u64, u64) {
    let mut out = (0, 0);
    for family in prometheus::gather() {
        if family.name() != "fitsync_schedule_slot_cache_total" {
            continue;
        }
        for m in family.get_metric() {
            let value = m.get_counter().get_value() as u64;
            match m
                .get_label()
                .iter()
                .find(|l| l.name() == "result")
                .map(|l| l.value())
            {
                Some("hit") => out.0 = value,
                Some("miss") => out.1 = value,
                _ => {}
            }
        }
    }
    out
}

/// Runs `pgbench` with `script` at the benchmark's concurrency; transactions per second.
fn pgbench(
    settings: &Settings,
    database: &str,
    script: &str,
    extra: &[&str],
) -> anyhow::Result<f64> {
    let file = std::env::temp_dir().join(format!("fitsync-bench-{}.sql", Uuid::new_v4()));
    std::fs::write(&file, script)?;
    let bin = ["/usr/lib/postgresql/15/bin/pgbench", "pgbench"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists() || p.to_str() == Some("pgbench"))
        .context("pgbench")?;
    let url = format!(
        "{}/{database}",
        settings.database.url.expose_secret().trim_end_matches('/')
    );
    let output = Command::new(bin)
        .args(["-n", "-c", &CONCURRENCY.to_string(), "-j", "2", "-f"])
        .arg(&file)
        .args(extra)
        .arg(&url)
        .output()
        .context("running pgbench")?;
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench: {}{}",
        text,
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .context("pgbench printed no tps")
}
