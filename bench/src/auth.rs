//! Token and authorization costs: ES256 issue and verify per second on one thread,
//! Argon2id per hash, and an authenticated read endpoint's throughput as a ratio to the
//! same read without authentication, both served in this process, in one run.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use fitsync_platform::{
    auth::{Authenticator, KeySet, Revocations, Verifier},
    ApiError, Role, Settings,
};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub async fn run(settings: &Settings, progress: &PgPool, seconds: u64) -> anyhow::Result<()> {
    let keys = Arc::new(KeySet::from_settings(&settings.auth, true)?);
    let n = 20_000;
    let user = Uuid::new_v4();
    let started = Instant::now();
    let tokens: Vec<String> = (0..n)
        .map(|_| keys.issue(user, Role::Client, None).map(|(t, _)| t))
        .collect::<Result<_, _>>()?;
    let issue_rate = f64::from(n) / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for token in &tokens {
        keys.verify(token)?;
    }
    let verify_rate = f64::from(n) / started.elapsed().as_secs_f64();
    println!("token issue      {issue_rate:>10.0} tokens/s  (ES256, one thread)");
    println!("token verify     {verify_rate:>10.0} tokens/s  (ES256 + claims, one thread)");

    let started = Instant::now();
    for i in 0..5 {
        fitsync_users::password::hash_blocking(&format!("benchmark password {i}"))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!(
        "argon2id hash    {:>10.1} ms/hash   (19 MiB, 2 iterations, 1 lane)",
        started.elapsed().as_secs_f64() * 1000.0 / 5.0
    );

    // One client with three exercises, read through both routers.
    let client = Uuid::new_v4();
    sqlx::query(
        "insert into exercise_e1rm (client_id, exercise, e1rm_kg, e1rm_brzycki_kg, set_id, achieved_at)
         select $1, e, 100, 97, gen_random_uuid(), now() from unnest(array['back-squat','bench-press','deadlift']) e",
    )
    .bind(client)
    .execute(progress)
    .await?;
    // The client's trainer reads through the access projection: a current grant and a
    // heartbeat per partition ahead of the run (so it stays within the staleness bound).
    let trainer = Uuid::new_v4();
    sqlx::query(
        "insert into access_grants (kind, grantee, subject, active, changed_at, version)
         values ('trainer', $1, $2, true, now(), 1)",
    )
    .bind(trainer)
    .bind(client)
    .execute(progress)
    .await?;
    sqlx::query(
        "insert into access_freshness (topic, partition, partitions, as_of)
         values ('bench', 0, 1, now() + interval '1 hour')
         on conflict (topic, partition) do update set as_of = excluded.as_of",
    )
    .execute(progress)
    .await?;
    let redis = fitsync_platform::redis::connect(&settings.redis).await?;
    let (token, _) = keys.issue(client, Role::Client, None)?;
    let (trainer_token, _) = keys.issue(trainer, Role::Trainer, None)?;
    let auth = Arc::new(Authenticator::new(
        Verifier::Local(keys),
        Revocations::new(redis, settings.redis.key_prefix.clone()),
    ));
    let authed = fitsync_progress::router(fitsync_progress::ProgressState {
        pool: progress.clone(),
        auth,
    });
    let plain = Router::new()
        .route("/api/progress/{client_id}/e1rm", get(unauthenticated))
        .with_state(progress.clone());
    let stop = CancellationToken::new();
    let authed_url = serve(authed.into(), &stop).await?;
    let plain_url = serve(plain, &stop).await?;
    let path = format!("/api/progress/{client}/e1rm");
    let per_round = Duration::from_secs(seconds.max(2) / 2);
    let (mut with, mut without, mut as_trainer) = (0.0, 0.0, 0.0);
    // Interleaved rounds, so drift on a shared machine touches all alike.
    for _ in 0..2 {
        without += load(&format!("{plain_url}{path}"), None, per_round).await?;
        with += load(&format!("{authed_url}{path}"), Some(&token), per_round).await?;
        as_trainer += load(
            &format!("{authed_url}{path}"),
            Some(&trainer_token),
            per_round,
        )
        .await?;
    }
    stop.cancel();
    println!("read, no auth    {:>10.0} req/s", without / 2.0);
    println!(
        "read, with auth  {:>10.0} req/s  (owner: JWT verify + Redis revocation check + policy)",
        with / 2.0
    );
    println!("auth / no auth   {:>10.2}", with / without);
    println!(
        "read, as trainer {:>10.0} req/s  (+ Redis end record + projection and freshness query)",
        as_trainer / 2.0
    );
    println!("trainer / owner  {:>10.2}", as_trainer / with);
    Ok(())
}

async fn unauthenticated(
    State(pool): State<PgPool>,
    Path(client): Path<Uuid>,
) -> Result<Json<fitsync_progress::handlers::E1rmResponse>, ApiError> {
    fitsync_progress::handlers::e1rm_of(&pool, client)
        .await
        .map(Json)
}

pub(crate) async fn serve(app: Router, stop: &CancellationToken) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let stop = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    });
    Ok(url)
}

/// 16 keep-alive connections requesting back to back for `duration`; requests/s.
async fn load(url: &str, token: Option<&str>, duration: Duration) -> anyhow::Result<f64> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()?;
    let deadline = Instant::now() + duration;
    let workers = (0..16).map(|_| {
        let http = http.clone();
        let url = url.to_owned();
        let token = token.map(str::to_owned);
        tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let mut request = http.get(&url);
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "status {}",
                    response.status()
                );
                response.bytes().await?;
                done += 1;
            }
            Ok(done)
        })
    });
    let started = Instant::now();
    let mut total = 0;
    for worker in futures::future::join_all(workers).await {
        total += worker??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
