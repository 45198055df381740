//! Layered configuration: embedded defaults → optional TOML file → `FITSYNC__SECTION__KEY`
//! environment variables. Unknown keys are rejected; secrets never print.

use std::{net::SocketAddr, path::Path, time::Duration};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub opensearch: OpenSearchSettings,
    pub redis: RedisSettings,
    pub smtp: SmtpSettings,
    pub auth: AuthSettings,
    pub relay: RelaySettings,
    pub jobs: JobSettings,
    pub schedule: ScheduleSettings,
    pub delivery: DeliverySettings,
    pub sms: SmsSettings,
    pub push: PushSettings,
    pub telemetry: TelemetrySettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    /// Serve `/metrics` on this address instead of with the API.
    #[serde(default)]
    pub metrics_bind: Option<SocketAddr>,
    /// Where users reach the platform; links in emails start with it.
    pub public_url: String,
    /// Requests taking longer than this are answered 503 and cancelled.
    pub request_timeout_ms: u64,
    /// How long a shutdown waits for in-flight work before giving up.
    pub shutdown_grace_ms: u64,
    /// The built web app (`npm run build` in `web/`), served by the `web` and `all`
    /// targets; relative paths start at the working directory.
    pub web_root: std::path::PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Server URL without a database name; each service appends its own.
    pub url: SecretString,
    pub max_connections: u32,
    /// A pooled connection idle this long is pinged before use (see `db::pool`).
    pub ping_idle_after_ms: u64,
    /// How long a query waits for a pooled connection before its request gets 503
    /// (at least 10 ms).
    pub acquire_timeout_ms: u64,
    pub names: DatabaseNames,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseNames {
    pub users: String,
    pub training: String,
    pub schedule: String,
    pub progress: String,
    pub notifications: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    pub brokers: String,
    /// Prepended to every topic name, so environments can share a cluster.
    pub topic_prefix: String,
    pub partitions: i32,
    pub replication_factor: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSearchSettings {
    pub url: String,
    pub index_prefix: String,
}

impl OpenSearchSettings {
    /// The full name of one of FitSync's indices (`events`, `exercises`).
    pub fn index(&self, name: &str) -> String {
        format!("{}{name}", self.index_prefix)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: SecretString,
    /// Prepended to every key, so environments (and tests) can share a server.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// `none` (a local relay), `starttls` or `tls`.
    pub tls: String,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The From address, e.g. `FitSync <no-reply@fitsync.dev>`.
    pub from: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_secs: u64,
    /// A refresh token unused this long expires (each rotation starts it again)…
    pub refresh_token_ttl_secs: u64,
    /// …and none outlives this, counted from the sign-in that began its family.
    pub refresh_token_max_lifetime_secs: u64,
    /// Mark the browser session's cookies `Secure` (browsers still send them to
    /// `http://localhost` and `http://127.0.0.1`, which count as secure contexts).
    pub session_cookie_secure: bool,
    /// PKCS#8 PEM of the ES256 signing key. Absent: a key is generated at start, which
    /// only suits a single `all` process (every token dies with it).
    pub signing_key_pem: Option<SecretString>,
    /// Keys that no longer sign but still verify (and are published in the JWKS) until
    /// the tokens they signed have expired.
    #[serde(default)]
    pub retired_keys_pem: Vec<SecretString>,
    /// 32 bytes, base64: seals the one-time tokens of emailed links on their way from
    /// the users service to the notifications service (`fitsync keygen --token-key`).
    /// Absent: generated at start, which only suits a single `all` process.
    #[serde(default)]
    pub email_token_key: Option<SecretString>,
    /// How long the record that an access ended is kept in Redis (beyond it, only the
    /// projection speaks, which by then has long caught up or failed closed).
    pub access_revocation_ttl_secs: u64,
    /// How far behind the users service a service's access projection may fall before
    /// it stops granting access to anyone but the data's owner (it fails closed).
    pub access_max_staleness_secs: u64,
    /// Where processes that do not run the users service fetch its public keys.
    pub jwks_url: String,
    /// How long fetched keys are trusted before the document is fetched again.
    pub jwks_refresh_secs: u64,
    /// Consecutive failed sign-ins that lock an account, and for how long.
    pub max_login_failures: i64,
    pub lockout_secs: i64,
    /// Sign-in attempts one address may make per minute.
    pub login_attempts_per_address_per_minute: i64,
    /// Lifetime of emailed one-time tokens.
    pub verify_email_ttl_secs: i64,
    pub password_reset_ttl_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaySettings {
    pub batch_size: i64,
    /// Fallback poll when no NOTIFY arrives (a lost notification, a relay restart).
    pub poll_interval_ms: u64,
    pub linger_ms: u32,
    /// How long Kafka may take to acknowledge a message before the relay gives up on it
    /// (the row stays in the outbox and is published again).
    pub message_timeout_ms: u64,
    /// How often a relay with a heartbeat topic sends a heartbeat (once drained).
    pub heartbeat_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    pub max_batch: usize,
    /// How long a micro-batch waits to fill once its first message arrived.
    pub batch_window_ms: u64,
    /// How long the broker holds a fetch open on an idle topic. It answers a waiting
    /// fetch as soon as there is a byte to send, so in steady state this costs no
    /// latency; the idle polling (the broker's CPU) shrinks as it grows.
    pub fetch_wait_ms: u64,
    pub consumer_group_prefix: String,
    /// How often consumers report their lag (`fitsync_consumer_lag`).
    pub stats_interval_ms: u64,
}

/// Alert delivery on the external channels (the notifications service's workers).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// How often a channel's worker looks for due deliveries when nothing woke it.
    pub poll_interval_ms: u64,
    /// The first retry's delay; each next one doubles it (at most an hour).
    pub retry_base_ms: u64,
    /// Attempts before a delivery is dead (listed, replayable).
    pub max_attempts: i32,
    /// How long an open in-app stream waits for a wake-up before it reads its inbox
    /// anyway (at least 100 ms).
    pub stream_resync_ms: u64,
}

/// Alert SMS: the provider's HTTP gateway and the key its delivery receipts are signed
/// with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    /// The gateway's base URL (it takes `POST {gateway_url}/messages`). Without one,
    /// `--target all` runs the simulated gateway at `/simulator/sms` on its own server;
    /// other targets send no SMS.
    #[serde(default)]
    pub gateway_url: Option<String>,
    /// The bearer token the gateway wants.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// The key receipts are signed with (base64, at least 32 bytes). Without one, only
    /// `--target all` runs, with a key of its own shared with its simulator.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
    /// How old a receipt's signature timestamp may be.
    pub webhook_tolerance_secs: i64,
    /// The sender name the texts show.
    pub from: String,
}

/// Web push (RFC 8030 with RFC 8291 encryption and RFC 8292 VAPID).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSettings {
    /// The VAPID private key: the P-256 scalar, base64url (32 bytes; `fitsync keygen
    /// --vapid` makes one). Without one, a key of this process's own: browsers'
    /// subscriptions then last until it restarts (fine locally, not in production).
    #[serde(default)]
    pub vapid_private_key: Option<SecretString>,
    /// The contact push services see in each request's VAPID claim.
    pub subject: String,
    /// Push services a subscription may name, as `scheme://host[:port]`; a host may start
    /// with `*.` (any subdomain). Anything else is refused: the server posts to it.
    pub endpoint_origins: Vec<String>,
    /// How long a push service keeps a message for an offline browser.
    pub ttl_secs: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSettings {
    /// How long computed free slots stay in Redis (their key changes with every booking,
    /// so this bounds memory, not staleness).
    pub slot_cache_ttl_secs: u64,
    /// How often the sweeper closes ended sessions (attended / no-show), closes waitlists
    /// of started sessions and expires credits.
    pub sweep_interval_secs: u64,
    /// Minutes after a session ends before a place never checked in is a no-show.
    pub no_show_grace_min: i64,
    /// The payment gateway: `simulated` (a local stand-in with hosted checkout pages and
    /// signed webhooks; the only one here).
    pub payment_gateway: String,
    /// The key the gateway signs webhooks with (base64, 32 bytes; `fitsync keygen
    /// --token-key` makes one). Without it only `--target all` runs, with a key of its own.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
    /// How old a webhook's signature timestamp may be.
    pub webhook_tolerance_secs: i64,
    /// Where the simulated gateway delivers webhooks (default: this process's own
    /// `/api/payments/webhook`).
    #[serde(default)]
    pub webhook_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `json` (production) or `pretty` (a terminal).
    pub log_format: String,
    /// An `EnvFilter` directive, e.g. `info,sqlx=warn`.
    pub log_level: String,
}

pub const DEFAULTS: &str = include_str!("../defaults.toml");

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Settings {
    /// Defaults → `file` (if given) → `FITSYNC__…` environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("FITSYNC__").split("__"));
        Self::extract(figment)
    }

    /// Defaults overlaid with `overrides`, ignoring the environment (tests).
    pub fn with_overrides(overrides: impl Serialize) -> Result<Self, ConfigError> {
        let figment = Figment::from(Toml::string(DEFAULTS)).merge(Serialized::defaults(overrides));
        Self::extract(figment)
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        figment.extract().map_err(|e| ConfigError(Box::new(e)))
    }
}

impl ServerSettings {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn defaults_load() {
        let s = Settings::with_overrides(serde_json::json!({})).unwrap();
        assert_eq!(s.server.bind.port(), 8080);
        assert_eq!(s.database.names.progress, "progressdb");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err =
            Settings::with_overrides(serde_json::json!({"server": {"bnid": "x"}})).unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Settings::with_overrides(
            serde_json::json!({"database": {"url": "postgres://u:hunter2@db"}}),
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.database.url.expose_secret(), "postgres://u:hunter2@db");
    }
}
