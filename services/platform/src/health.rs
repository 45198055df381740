//! `/healthz` (the process is alive) and `/readyz` (its dependencies answer).

use std::{sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use futures::future::join_all;
use sqlx::PgPool;

/// The databases a process depends on, checked on every `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness {
    pools: Arc<Vec<(&'static str, PgPool)>>,
}

impl Readiness {
    pub fn new(pools: Vec<(&'static str, PgPool)>) -> Self {
        Self {
            pools: Arc::new(pools),
        }
    }

    pub fn router(self) -> Router {
        Router::new()
            .route(
                "/healthz",
                get(|| async { Json(serde_json::json!({"status": "ok"})) }),
            )
            .route("/readyz", get(ready))
            .with_state(self)
    }
}

async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    let checks = readiness.pools.iter().map(|(name, pool)| async move {
        let ok = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query("select 1").execute(pool),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        (*name, ok)
    });
    let results = join_all(checks).await;
    let all_ok = results.iter().all(|(_, ok)| *ok);
    let body: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(name, ok)| {
            (
                name.to_owned(),
                serde_json::Value::from(if ok { "ok" } else { "down" }),
            )
        })
        .collect();
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(
            serde_json::json!({ "status": if all_ok { "ok" } else { "degraded" }, "checks": body }),
        ),
    )
}
