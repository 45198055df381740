use std::{net::SocketAddr, time::Duration};

use axum::{
    extract::MatchedPath,
    http::{Request, StatusCode},
    middleware,
    response::IntoResponse,
    routing::get,
    Router,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{
    catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer, timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{metrics, problem::ApiError};

/// Wraps the merged service routers with what every request gets: a trace span named
/// by route template, metrics, a body limit, a timeout, panics turned into problem JSON,
/// `/metrics` (unless it has a port of its own), and a problem-JSON 404 (or, with `web`,
/// the web app, which answers unknown `/api/…` paths with that 404 itself).
pub fn with_common_layers(
    api: Router,
    timeout: Duration,
    serve_metrics: bool,
    web: Option<Router>,
) -> Router {
    let api = if serve_metrics {
        api.route("/metrics", get(metrics::render))
    } else {
        api
    };
    let api = match web {
        Some(web) => api.fallback_service(web),
        None => api.fallback(crate::problem::not_found),
    };
    api.layer(middleware::map_response(not_stored))
        .layer(middleware::from_fn(metrics::track_http))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("unmatched");
                tracing::info_span!("http", method = %request.method(), route)
            }),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(RequestBodyLimitLayer::new(1024 * 1024))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Unexpected(anyhow::anyhow!("handler panicked")).into_response()
        }))
}

/// Answers are the caller's own (a cookie or a token chose them): no cache may keep one
/// unless its handler says otherwise (the web app's files do).
async fn not_stored(mut response: axum::response::Response) -> axum::response::Response {
    response
        .headers_mut()
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(axum::http::HeaderValue::from_static("no-store"));
    response
}

/// `/metrics` alone, for a port of its own (`server.metrics_bind`): scraped inside the
/// cluster, never exposed with the API.
pub fn metrics_only() -> Router {
    Router::new()
        .route("/metrics", get(metrics::render))
        .fallback(crate::problem::not_found)
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until `shutdown` is cancelled, then stops accepting and drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}
