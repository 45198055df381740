//! The database pools' check of idle connections (`db::pool`): a connection idle for
//! `database.ping_idle_after_ms` is pinged before use and replaced if the server dropped
//! it; one in steady use is handed out without that round trip. A query that gets no
//! connection within `database.acquire_timeout_ms` maps to 503 with `Retry-After`.

use std::time::Duration;

use fitsync_platform::config::DatabaseSettings;
use sqlx::PgPool;

use crate::harness::{eventually, TestEnv};

/// A one-connection pool of the test's training database, pinging after `idle_after`.
fn pool(env: &TestEnv, idle_after: Duration) -> PgPool {
    let settings = DatabaseSettings {
        max_connections: 1,
        ping_idle_after_ms: u64::try_from(idle_after.as_millis()).unwrap(),
        ..env.settings.database.clone()
    };
    fitsync_platform::db::pool(&settings, &env.settings.database.names.training).unwrap()
}

/// Ends the server process behind the pool's one connection, as a restart or an idle
/// timeout would, and waits until the server has let it go.
async fn drop_server_side(env: &TestEnv, pool: &PgPool) -> i32 {
    let backend: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(pool)
        .await
        .unwrap();
    // sqlx checks a connection as it returns to the pool (in a task of its own): only
    // once it is back idle is it the one the next query gets.
    eventually(10, "the connection back in the pool", || async {
        (pool.num_idle() == 1).then_some(())
    })
    .await;
    let admin = env.pool("postgres");
    let ended: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
        .bind(backend)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(ended, "the backend {backend} was there to end");
    eventually(10, "the ended backend to be gone", || async {
        let left: i64 = sqlx::query_scalar("select count(*) from pg_stat_activity where pid = $1")
            .bind(backend)
            .fetch_one(&admin)
            .await
            .ok()?;
        (left == 0).then_some(())
    })
    .await;
    backend
}

#[tokio::test]
async fn a_connection_dropped_while_idle_is_replaced_before_use_and_a_busy_one_is_not_pinged() {
    let env = TestEnv::new().await;

    // Idle longer than the threshold: pinged, found dead, replaced; the query succeeds
    // on a new server process.
    let checked = pool(&env, Duration::from_millis(100));
    let dropped = drop_server_side(&env, &checked).await;
    // The idle time is what is being tested: the connection must have sat for longer
    // than the threshold (the server has already let it go).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let backend: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&checked)
        .await
        .expect("the dropped connection is replaced before use");
    assert_ne!(backend, dropped, "a new server process answers");

    // Under the threshold (an hour): handed out without a ping, so the query itself
    // meets the dead connection — proof that no round trip preceded it. The pool then
    // discards it, and the next query gets a new one.
    let unchecked = pool(&env, Duration::from_secs(3600));
    drop_server_side(&env, &unchecked).await;
    let failed = sqlx::query_scalar::<_, i32>("select 1")
        .fetch_one(&unchecked)
        .await;
    assert!(
        failed.is_err(),
        "a connection in steady use is not pinged, so its first query fails"
    );
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&unchecked)
        .await
        .expect("the broken connection was discarded");
    assert_eq!(one, 1);
}

#[tokio::test]
async fn a_query_that_gets_no_connection_in_time_maps_to_503_with_retry_after() {
    use axum::response::IntoResponse;
    use fitsync_platform::ApiError;

    let env = TestEnv::new().await;
    let settings = DatabaseSettings {
        max_connections: 1,
        acquire_timeout_ms: 200,
        ..env.settings.database.clone()
    };
    let pool =
        fitsync_platform::db::pool(&settings, &env.settings.database.names.training).unwrap();
    let held = pool.acquire().await.expect("the pool's one connection");

    let started = std::time::Instant::now();
    let err = sqlx::query_scalar::<_, i32>("select 1")
        .fetch_one(&pool)
        .await
        .expect_err("no connection is free");
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "the query waited out the acquire timeout ({:?})",
        started.elapsed()
    );

    // What a handler's `?` makes of it.
    let response = ApiError::from(err).into_response();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["type"], "https://fitsync.dev/problems/unavailable");
    assert_eq!(problem["status"], 503);

    // The connection back, the same pool answers.
    drop(held);
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
}
