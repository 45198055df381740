//! Prometheus metrics: one process-wide registry, names `fitsync_<what>_<unit>`, labels
//! bounded (route templates, never ids).

use std::{
    collections::BTreeMap,
    sync::{LazyLock, Mutex},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus::{
    core::{Collector, Desc},
    exponential_buckets,
    proto::MetricFamily,
    register_histogram_vec, register_int_counter_vec, Encoder, HistogramVec, IntCounterVec,
    IntGaugeVec, Opts, TextEncoder,
};
use sqlx::PgPool;

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

/// Registers what every process exports besides its own metrics: the process collector
/// (CPU, memory, file descriptors, start time) and the database pools. Idempotent.
pub fn register_process_metrics() {
    static ONCE: LazyLock<()> = LazyLock::new(|| {
        let registry = prometheus::default_registry();
        if let Err(e) = registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )) {
            tracing::warn!(error = %e, "registering the process collector");
        }
        if let Err(e) = registry.register(Box::new(PoolCollector::new())) {
            tracing::warn!(error = %e, "registering the pool collector");
        }
    });
    LazyLock::force(&ONCE);
}

/// The database pools of this process, by service (a later pool of the same name — a
/// restart inside one test process — replaces the earlier).
static POOLS: LazyLock<Mutex<BTreeMap<String, PgPool>>> = LazyLock::new(Default::default);

/// Exports `pool`'s saturation as `pool="<service>"`.
pub fn watch_pool(service: &str, pool: &PgPool) {
    POOLS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(service.to_owned(), pool.clone());
}

/// Connections in use, idle, and the maximum, per pool, read at scrape time.
struct PoolCollector {
    connections: IntGaugeVec,
    max: IntGaugeVec,
}

impl PoolCollector {
    fn new() -> Self {
        Self {
            connections: IntGaugeVec::new(
                Opts::new(
                    "fitsync_db_pool_connections",
                    "Database pool connections by state (in_use, idle)",
                ),
                &["pool", "state"],
            )
            .expect("valid metric"),
            max: IntGaugeVec::new(
                Opts::new(
                    "fitsync_db_pool_max_connections",
                    "Most connections a database pool may open",
                ),
                &["pool"],
            )
            .expect("valid metric"),
        }
    }
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.connections
            .desc()
            .into_iter()
            .chain(self.max.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let pools = POOLS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, pool) in pools.iter() {
            let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
            let size = i64::from(pool.size());
            self.connections
                .with_label_values(&[name, "in_use"])
                .set(size - idle);
            self.connections
                .with_label_values(&[name, "idle"])
                .set(idle);
            self.max
                .with_label_values(&[name])
                .set(i64::from(pool.options().get_max_connections()));
        }
        let mut families = self.connections.collect();
        families.extend(self.max.collect());
        families
    }
}
