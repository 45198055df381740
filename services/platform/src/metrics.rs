//! Prometheus metrics: one process-wide registry, names `fitsync_<what>_<unit>`, labels
//! bounded (route templates, never ids).

use std::{sync::LazyLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus::{
    exponential_buckets, register_histogram_vec, register_int_counter_vec, Encoder, HistogramVec,
    IntCounterVec, TextEncoder,
};

static HTTP_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "fitsync_http_requests_total",
        "HTTP requests by route template, method and status class",
        &["route", "method", "status"]
    )
    .expect("metric registers once")
});

static HTTP_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "fitsync_http_request_duration_seconds",
        "HTTP request latency by route template",
        &["route", "method"],
        exponential_buckets(0.0005, 2.0, 16).expect("valid buckets")
    )
    .expect("metric registers once")
});

/// Seconds-scale buckets from 0.5 ms to ~16 s, for pipeline stages.
pub fn latency_buckets() -> Vec<f64> {
    exponential_buckets(0.0005, 2.0, 16).expect("valid buckets")
}

/// Middleware recording request count and latency per route template.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let class = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    HTTP_REQUESTS
        .with_label_values(&[&route, &method, class])
        .inc();
    HTTP_DURATION
        .with_label_values(&[&route, &method])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics` in the Prometheus text format.
pub async fn render() -> Response {
    let mut buffer = Vec::new();
    match TextEncoder::new().encode(&prometheus::gather(), &mut buffer) {
        Ok(()) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], buffer).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "encoding metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
