//! `/healthz` (the process is alive) and `/readyz` (what its targets need answers).
//!
//! Each target names what it needs: its database, Redis, the token issuer's keys, Kafka,
//! OpenSearch. A check is *required* when the process cannot do its work without it:
//! a process serving the API is ready without Kafka (that is what the outbox is for —
//! a broker outage must not take the API out of its Service), a worker-only process is
//! not. Checks are named by what they are (`postgres.users`, `kafka`), never by a
//! database name or an address, and every probe has a time limit.

use std::{sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use futures::future::join_all;
use rdkafka::{
    consumer::{BaseConsumer, Consumer},
    ClientConfig,
};
use redis::aio::ConnectionManager;
use serde_json::{json, Map, Value};
use sqlx::PgPool;

use crate::{auth::Verifier, config::KafkaSettings, kafka};

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One dependency and how to ask it whether it answers.
pub struct Check {
    name: String,
    required: bool,
    probe: Probe,
}

enum Probe {
    Postgres(PgPool),
    AccessProjection {
        pool: PgPool,
        max_staleness_secs: f64,
    },
    Redis(ConnectionManager),
    Kafka(Arc<KafkaProbe>),
    OpenSearch {
        http: reqwest::Client,
        url: String,
    },
    /// A server that only has to accept a connection (SMTP).
    Tcp {
        host: String,
        port: u16,
    },
    Keys(Verifier),
}

impl Check {
    pub fn postgres(service: &str, pool: PgPool) -> Self {
        Self::new(format!("postgres.{service}"), true, Probe::Postgres(pool))
    }

    /// Whether a service's access projection is within its staleness bound. Not
    /// required: past it, only reads by others than the data's owner fail (closed).
    pub fn access_projection(service: &str, pool: PgPool, max_staleness_secs: u64) -> Self {
        Self::new(
            format!("access_projection.{service}"),
            false,
            Probe::AccessProjection {
                pool,
                max_staleness_secs: max_staleness_secs as f64,
            },
        )
    }

    pub fn redis(redis: ConnectionManager) -> Self {
        Self::new("redis".into(), true, Probe::Redis(redis))
    }

    /// The keys tokens are verified with (the issuer's JWKS, for processes that do not
    /// hold the signing key).
    pub fn keys(verifier: Verifier) -> Self {
        Self::new("token_keys".into(), true, Probe::Keys(verifier))
    }

    pub fn kafka(settings: &KafkaSettings, required: bool) -> anyhow::Result<Self> {
        Ok(Self::new(
            "kafka".into(),
            required,
            Probe::Kafka(Arc::new(KafkaProbe::new(settings)?)),
        ))
    }

    /// A TCP server (the SMTP relay), checked by connecting.
    pub fn tcp(name: &str, host: &str, port: u16, required: bool) -> Self {
        Self::new(
            name.to_owned(),
            required,
            Probe::Tcp {
                host: host.to_owned(),
                port,
            },
        )
    }

    pub fn opensearch(url: &str, required: bool) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(PROBE_TIMEOUT).build()?;
        Ok(Self::new(
            "opensearch".into(),
            required,
            Probe::OpenSearch {
                http,
                url: format!("{}/_cluster/health", url.trim_end_matches('/')),
            },
        ))
    }

    fn new(name: String, required: bool, probe: Probe) -> Self {
        Self {
            name,
            required,
            probe,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    async fn answers(&self) -> bool {
        let probe = async {
            match &self.probe {
                Probe::Postgres(pool) => sqlx::query!("select 1 as one").fetch_one(pool).await.is_ok(),
                Probe::AccessProjection {
                    pool,
                    max_staleness_secs,
                } => sqlx::query_scalar!(
                    r#"select coalesce(count(*) >= max(partitions)
                                     and min(as_of) > now() - make_interval(secs => $1), false) as "fresh!"
                     from access_freshness"#,
                    *max_staleness_secs
                )
                .fetch_one(pool)
                .await
                .unwrap_or(false),
                Probe::Redis(redis) => {
                    let mut redis = redis.clone();
                    redis::cmd("PING")
                        .query_async::<String>(&mut redis)
                        .await
                        .is_ok()
                }
                Probe::Kafka(kafka) => kafka.answers().await,
                Probe::OpenSearch { http, url } => http
                    .get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                Probe::Keys(verifier) => verifier.ready().await,
                Probe::Tcp { host, port } => tokio::net::TcpStream::connect((host.as_str(), *port))
                    .await
                    .is_ok(),
            }
        };
        tokio::time::timeout(PROBE_TIMEOUT + Duration::from_millis(500), probe)
            .await
            .unwrap_or(false)
    }
}

/// Asks the cluster for its metadata. librdkafka only offers that as a blocking call, so
/// it runs on the blocking pool, one probe at a time.
struct KafkaProbe {
    client: Option<Arc<BaseConsumer>>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl KafkaProbe {
    fn new(settings: &KafkaSettings) -> anyhow::Result<Self> {
        let config: ClientConfig = kafka::client_config(settings);
        Ok(Self {
            client: Some(Arc::new(config.create()?)),
            one_at_a_time: tokio::sync::Mutex::new(()),
        })
    }

    async fn answers(&self) -> bool {
        let Some(client) = self.client.clone() else {
            return false;
        };
        let _one = self.one_at_a_time.lock().await;
        tokio::task::spawn_blocking(move || {
            client
                .fetch_metadata(None, PROBE_TIMEOUT)
                .is_ok_and(|m| !m.brokers().is_empty())
        })
        .await
        .unwrap_or(false)
    }
}

impl Drop for KafkaProbe {
    /// Destroying a client waits for its threads: not on whatever thread drops this.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            std::thread::spawn(move || drop(client));
        }
    }
}

/// What a process checks on every `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Arc<Vec<Check>>,
}

impl Readiness {
    pub fn new(checks: Vec<Check>) -> Self {
        Self {
            checks: Arc::new(checks),
        }
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
            .route("/readyz", get(ready))
            .with_state(self)
    }
}

async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    let results = join_all(readiness.checks.iter().map(|check| async move {
        let ok = check.answers().await;
        (check, ok)
    }))
    .await;
    let ready = results.iter().all(|(check, ok)| *ok || !check.required);
    let checks: Map<String, Value> = results
        .into_iter()
        .map(|(check, ok)| {
            (
                check.name.clone(),
                json!({"status": if ok { "ok" } else { "down" }, "required": check.required}),
            )
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"status": if ready { "ok" } else { "unavailable" }, "checks": checks})),
    )
}
