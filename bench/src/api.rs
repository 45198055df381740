//! The API against its physical baselines (issue 13), each pair measured in one run on
//! this machine, at the same concurrency, and reported as a ratio:
//!
//! - the write path — `POST /api/workouts/sets` through the whole middleware stack
//!   (authentication, policy, validation, problem JSON, tracing, metrics), the set and
//!   its outbox row in one transaction — against `pgbench` running the same two
//!   INSERTs (the outbox row's with its wake-up, as the API's) in one transaction;
//! - the middleware — an answer that touches no database, served through every layer
//!   the API's routes have (`server::with_common_layers`), then also from a verified
//!   token — against the same answer from a bare axum router; all three in this process
//!   on its runtime, loaded alike.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::{routing::get, Json, Router};
use fitsync_platform::{
    auth::{Revocations, Verifier},
    db, server, AuthUser, Authenticator, KeySet, Role, Settings,
};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{auth::serve, Platform};

/// What a closed-loop load measured: requests completed per second and their latency.
pub(crate) struct Measured {
    pub rate: f64,
    latency: Histogram<u64>,
}

impl Measured {
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn line(&self, what: &str) -> String {
        format!(
            "{what:<16} {:>10.0} req/s   p50 {:.2} ms  p99 {:.2} ms",
            self.rate,
            self.ms(0.5),
            self.ms(0.99)
        )
    }
}

/// `connections` workers, each sending `request(worker, n)` and waiting for its answer
/// before the next, for `warmup` (not measured) and then `seconds`. Every answer must
/// have status `expect`.
pub(crate) async fn closed_loop<F, Fut>(
    connections: usize,
    warmup: Duration,
    seconds: u64,
    expect: u16,
    request: F,
) -> anyhow::Result<Measured>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let (measure_from, end) = (
        started + warmup,
        started + warmup + Duration::from_secs(seconds),
    );
    let merged = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let mut workers = Vec::new();
    for worker in 0..connections {
        let (request, merged) = (request.clone(), merged.clone());
        workers.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new(3)?;
            let mut n = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let response = request(worker, n).await?;
                let status = response.status().as_u16();
                response.bytes().await?;
                anyhow::ensure!(status == expect, "answered {status}, not {expect}");
                if sent >= measure_from {
                    latency.record(u64::try_from(sent.elapsed().as_micros())?)?;
                }
                n += 1;
            }
            merged.lock().unwrap().add(&latency)?;
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let latency = std::mem::replace(&mut *merged.lock().unwrap(), Histogram::new(3)?);
    anyhow::ensure!(!latency.is_empty(), "nothing measured");
    Ok(Measured {
        rate: latency.len() as f64 / seconds as f64,
        latency,
    })
}

pub async fn run(
    settings: &Settings,
    id: &str,
    binary: &PathBuf,
    seconds: u64,
    connections: usize,
) -> anyhow::Result<()> {
    println!("(closed loops of {connections} connections, {seconds} s each after 3 s of warm-up)");
    write_path(settings, id, binary, seconds, connections).await?;
    middleware(settings, seconds, connections).await
}

pub(crate) const WARMUP: Duration = Duration::from_secs(3);

async fn write_path(
    settings: &Settings,
    id: &str,
    binary: &PathBuf,
    seconds: u64,
    connections: usize,
) -> anyhow::Result<()> {
    // The API and nothing else: no relay, no jobs (pgbench's rows are not published
    // either; the outbox keeps both sides' rows). Its pools get as many connections as
    // pgbench has clients (the default is 10), so the database sees one concurrency.
    let platform = Platform::start_targets(
        settings,
        id,
        "w",
        binary,
        "users,training",
        &[(
            "FITSYNC__DATABASE__MAX_CONNECTIONS",
            connections.to_string(),
        )],
    )
    .await?;
    let mut tokens = Vec::new();
    for i in 0..connections {
        let (_, token) = platform
            .account(&format!("writer{i}@example.com"), "client")
            .await?;
        tokens.push(token);
    }
    let tokens = Arc::new(tokens);
    let (api, http) = (platform.api.clone(), platform.http.clone());
    let api_side = closed_loop(connections, WARMUP, seconds, 201, move |worker, n| {
        http.post(format!("{api}/api/workouts/sets"))
            .bearer_auth(&tokens[worker])
            .json(&json!({"exercise": "back-squat", "reps": 1 + n % 8,
                          "weight_kg": 100.0 + (n % 20) as f64 * 2.5, "rir": 2}))
            .send()
    })
    .await?;

    // The same two rows, as the API wrote them: a set of one of as many clients, and an
    // outbox row carrying one of the API's own events.
    let training = platform.pool(settings, "TRAINING")?;
    // Through jsonb, whose text has a space after every colon: pgbench's `-M prepared`
    // takes any `:name`, quoted or not, for one of its variables.
    let (topic, payload): (String, String) =
        sqlx::query_as("select topic, payload::jsonb::text from outbox limit 1")
            .fetch_one(&training)
            .await?;
    // The library's slug the API resolved "back-squat" to.
    let exercise: String = sqlx::query_scalar("select exercise from workout_sets limit 1")
        .fetch_one(&training)
        .await?;
    anyhow::ensure!(
        ![&topic, &payload, &exercise]
            .iter()
            .any(|v| v.contains('\'') || has_variable(v)),
        "values pgbench can quote and leaves as they are"
    );
    let script = std::env::temp_dir().join(format!("fitsync-bench-{id}.sql"));
    std::fs::write(
        &script,
        format!(
            "\\set c random(0, {last})\n\
             \\set reps random(1, 8)\n\
             BEGIN;\n\
             INSERT INTO workout_sets (id, client_id, exercise, reps, weight_kg, rir, failed, performed_at, unit)\n\
             VALUES (gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(:c::text, 12, '0'))::uuid,\n\
             '{exercise}', :reps, 100, 2, false, now(), 'kg');\n\
             WITH added AS (INSERT INTO outbox (topic, message_key, payload)\n\
             VALUES ('{topic}', '00000000-0000-4000-8000-' || lpad(:c::text, 12, '0'), '{payload}'))\n\
             SELECT pg_notify('fitsync_outbox', '');\n\
             END;\n",
            last = connections - 1,
        ),
    )?;
    let database = &platform
        .names
        .iter()
        .find(|(service, _)| *service == "TRAINING")
        .context("the training database")?
        .1;
    let pgbench = pgbench(settings, database, &script, connections, seconds);
    std::fs::remove_file(&script).ok();
    let pgbench = pgbench?;
    println!("{}", api_side.line("API write"));
    println!(
        "pgbench          {:>10.0} tx/s    mean {:.2} ms  (the same two INSERTs in one transaction, -M prepared)",
        pgbench.0, pgbench.1
    );
    println!("API / pgbench    {:>10.2}", api_side.rate / pgbench.0);
    Ok(())
}

/// Whether `text` holds what pgbench would read as a variable: a colon followed by a
/// letter or an underscore.
fn has_variable(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|w| w[0] == b':' && (w[1].is_ascii_alphabetic() || w[1] == b'_'))
}

/// Runs pgbench's `script` on `database` for `seconds` after 3 s of the same (a first
/// pgbench run, not counted): (transactions per second, mean latency in ms).
fn pgbench(
    settings: &Settings,
    database: &str,
    script: &std::path::Path,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<(f64, f64)> {
    let binary = ["/usr/lib/postgresql/15/bin/pgbench", "pgbench"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok()
        })
        .context("pgbench (PostgreSQL's server package ships it)")?;
    let server = db::connect_options(&settings.database, database)?;
    let run = |secs: u64| -> anyhow::Result<String> {
        let out = Command::new(binary)
            .args(["-n", "-M", "prepared", "-j", "2"])
            .args(["-c", &connections.to_string(), "-T", &secs.to_string()])
            .args(["-h", server.get_host()])
            .args(["-p", &server.get_port().to_string()])
            .args(["-U", server.get_username()])
            .arg("-f")
            .arg(script)
            .arg(database)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        anyhow::ensure!(
            out.status.success(),
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(text)
    };
    run(WARMUP.as_secs())?;
    let text = run(seconds)?;
    let number = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("pgbench printed no {prefix:?}: {text}"))
    };
    let failed = number("number of failed transactions:").unwrap_or(0.0);
    anyhow::ensure!(failed == 0.0, "pgbench transactions failed: {text}");
    Ok((number("tps =")?, number("latency average =")?))
}

async fn middleware(settings: &Settings, seconds: u64, connections: usize) -> anyhow::Result<()> {
    let keys = Arc::new(KeySet::from_settings(&settings.auth, true)?);
    let (token, _) = keys.issue(Uuid::new_v4(), Role::Client, None)?;
    let redis = fitsync_platform::redis::connect(&settings.redis).await?;
    let stop = CancellationToken::new();
    let revocations = Revocations::mirrored(redis.clone(), &settings.redis, stop.clone())?;
    // As a server answers once its mirror has read every revocation.
    let started = Instant::now();
    while revocations.mirror_state().is_some_and(|(live, _)| !live) {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "the revocation mirror never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let auth = Arc::new(Authenticator::new(
        Verifier::Local(keys.clone()),
        revocations,
    ));
    // The baseline of the mirror: the same check asked of Redis on every request.
    let asked = Arc::new(Authenticator::new(
        Verifier::Local(keys),
        Revocations::new(redis, settings.redis.key_prefix.clone()),
    ));
    let timeout = settings.server.request_timeout();
    // The same answer four ways: bare; through the layers every API route has; and
    // through them from the caller's verified token (signature, claims, the revocation
    // check), as `/api/users/me` would be served from the token alone, with the
    // revocations answered by the process's mirror (as the platform runs) and, for
    // comparison, asked of Redis per request (as it ran before the mirror).
    let bare = Router::new().route("/api/whoami", get(|| async { Json(json!({"ok": true})) }));
    let layered = server::with_common_layers(
        Router::new().route("/api/whoami", get(|| async { Json(json!({"ok": true})) })),
        timeout,
        false,
        None,
    );
    let from_token = |auth: Arc<Authenticator>| {
        server::with_common_layers(
            Router::new()
                .route(
                    "/api/whoami",
                    get(|user: AuthUser| async move { Json(json!({"ok": true, "id": user.id()})) }),
                )
                .with_state(auth),
            timeout,
            false,
            None,
        )
    };
    let full = from_token(auth);
    let full_asked = from_token(asked);
    let mut rates = Vec::new();
    for (name, app, token) in [
        ("bare axum", bare, None),
        ("layers", layered, None),
        ("layers + token", full, Some(token.clone())),
        ("+ token, Redis", full_asked, Some(token)),
    ] {
        let url = format!("{}/api/whoami", serve(app, &stop).await?);
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(128)
            .build()?;
        let measured = closed_loop(connections, WARMUP, seconds, 200, move |_, _| {
            let request = http.get(&url);
            match &token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
            .send()
        })
        .await?;
        println!("{}", measured.line(name));
        rates.push(measured.rate);
    }
    stop.cancel();
    println!("layers / bare    {:>10.2}", rates[1] / rates[0]);
    println!("+ token / bare   {:>10.2}", rates[2] / rates[0]);
    println!(
        "+ token, Redis per request / bare {:>5.2}",
        rates[3] / rates[0]
    );
    Ok(())
}
