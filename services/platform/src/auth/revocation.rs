//! Revoked access tokens, in Redis: one token (logout) or every token of a user issued
//! before a moment (log out everywhere); and ended access (see `access`), which is
//! always asked of Redis.
//!
//! Every authenticated request asks whether its token was revoked. A process started
//! with `Revocations::mirrored` answers that from memory: a mirror of every revocation,
//! kept by a subscription to the channel each revocation is published on (in the same
//! `MULTI` as the key is written), read whole from Redis each time the subscription
//! (re)starts, and pinged every second. While the subscription is down, starting or
//! unconfirmed, each request asks Redis with one round trip, and if Redis cannot answer
//! the request fails closed (503), never open.
//!
//! A revocation this process makes applies here at once. One made by another process
//! applies here when its message arrives (test: `revocations::`). If the subscription
//! dies silently, revocations published in between are missed until the ping fails
//! (about two seconds: a ping a second, each given a second), then read in the resync.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, RwLock},
    time::{Duration, Instant},
};

use futures::StreamExt;
use prometheus::{register_int_counter, register_int_gauge, IntCounter, IntGauge};
use redis::{aio::ConnectionManager, AsyncCommands};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::claims::Claims;
use crate::{config::RedisSettings, problem::ApiError};

#[derive(Clone)]
pub struct Revocations {
    redis: ConnectionManager,
    prefix: String,
    mirror: Option<Arc<Mirror>>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("prefix", &self.prefix)
            .field("mirrored", &self.mirror.is_some())
            .finish_non_exhaustive()
    }
}

static MIRROR_LIVE: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "fitsync_revocations_mirror_live",
        "Whether revocations are answered from memory (1) or asked of Redis per request (0)"
    )
    .expect("metric registers once")
});

static MIRROR_SYNCS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "fitsync_revocations_mirror_syncs_total",
        "Times the revocation mirror subscribed and read every revocation from Redis"
    )
    .expect("metric registers once")
});

/// What the mirror holds: each token revocation by its key after `{prefix}revoked:`
/// (`jti:…`, `user:…`), with its value (1 for a token, the cutoff in ms for a user) and
/// when its key expires in Redis.
#[derive(Default)]
struct Mirror {
    state: RwLock<MirrorState>,
}

#[derive(Default)]
struct MirrorState {
    /// Subscribed, read whole since, and the last ping answered.
    live: bool,
    /// Completed (re)syncs.
    syncs: u64,
    entries: HashMap<String, (i64, Instant)>,
}

impl Mirror {
    /// `None` while the mirror cannot be trusted (ask Redis); else the value of `key`.
    fn get(&self, key: &str) -> Option<Option<i64>> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if !state.live {
            return None;
        }
        let now = Instant::now();
        Some(
            state
                .entries
                .get(key)
                .filter(|(_, expires)| *expires > now)
                .map(|(value, _)| *value),
        )
    }

    /// Records a revocation; a later cutoff or version, and a later expiry, win.
    fn apply(&self, key: &str, value: i64, ttl: Duration) {
        let expires = Instant::now() + ttl;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let entry = state
            .entries
            .entry(key.to_owned())
            .or_insert((value, expires));
        entry.0 = entry.0.max(value);
        entry.1 = entry.1.max(expires);
    }

    fn set_live(&self, live: bool) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if live && !state.live {
            state.syncs += 1;
            MIRROR_SYNCS.inc();
        }
        state.live = live;
        MIRROR_LIVE.set(i64::from(live));
    }

    fn prune(&self) {
        let now = Instant::now();
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.entries.retain(|_, (_, expires)| *expires > now);
    }
}

/// How often the subscription is pinged, and how long an answer may take.
const PING_EVERY: Duration = Duration::from_secs(1);

impl Revocations {
    /// Asks Redis on every request.
    pub fn new(redis: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            mirror: None,
        }
    }

    /// Answers from a mirror that a task subscribed to `settings.url` keeps until
    /// `shutdown`; `redis` reads and writes the revocations themselves.
    pub fn mirrored(
        redis: ConnectionManager,
        settings: &RedisSettings,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(settings.url.expose_secret())?;
        let mirror = Arc::new(Mirror::default());
        let this = Self {
            redis,
            prefix: settings.key_prefix.clone(),
            mirror: Some(mirror.clone()),
        };
        tokio::spawn(this.clone().follow(client, mirror, shutdown));
        Ok(this)
    }

    /// Whether revocations are answered from memory now, and how many times the mirror
    /// has been read whole (for tests and readiness).
    pub fn mirror_state(&self) -> Option<(bool, u64)> {
        self.mirror.as_ref().map(|m| {
            let state = m.state.read().unwrap_or_else(|e| e.into_inner());
            (state.live, state.syncs)
        })
    }

    fn channel(&self) -> String {
        format!("{}revoked", self.prefix)
    }

    /// Keeps the mirror: subscribe, read every revocation, apply each message, ping;
    /// on any failure mark it untrusted and start over after a growing pause.
    async fn follow(self, client: redis::Client, mirror: Arc<Mirror>, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let syncs = mirror.state.read().unwrap_or_else(|e| e.into_inner()).syncs;
            let outcome = tokio::select! {
                () = shutdown.cancelled() => return,
                outcome = self.session(&client, &mirror) => outcome,
            };
            mirror.set_live(false);
            // A session that went live starts the pauses over.
            if mirror.state.read().unwrap_or_else(|e| e.into_inner()).syncs > syncs {
                backoff = Duration::from_millis(100);
            }
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "revocation mirror lost its subscription; asking Redis per request");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn session(&self, client: &redis::Client, mirror: &Mirror) -> anyhow::Result<()> {
        let connect = tokio::time::timeout(Duration::from_secs(3), client.get_async_pubsub());
        let (mut sink, mut messages) = connect.await??.split();
        tokio::time::timeout(Duration::from_secs(3), sink.subscribe(self.channel())).await??;
        // Subscribed first: whatever is revoked while the keys are read arrives after.
        self.read_all(mirror).await?;
        mirror.set_live(true);
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let message = message.ok_or_else(|| anyhow::anyhow!("subscription closed"))?;
                    let text: String = message.get_payload()?;
                    if let Some((key, value, ttl)) = parse(&text) {
                        mirror.apply(key, value, ttl);
                    }
                }
                _ = ping.tick() => {
                    tokio::time::timeout(PING_EVERY, sink.ping::<redis::Value>()).await??;
                    mirror.prune();
                }
            }
        }
    }

    /// Reads every revocation key with its value and remaining lifetime into `mirror`.
    async fn read_all(&self, mirror: &Mirror) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let mut keys: Vec<String> = Vec::new();
        // SCAN by hand: every step's error fails the read (the crate's iterator would end
        // quietly on one, and a mirror read in part would go live without what it missed).
        for kind in ["jti", "user"] {
            let pattern = format!("{}revoked:{kind}:*", glob_escape(&self.prefix));
            let mut cursor: u64 = 0;
            loop {
                let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut redis)
                    .await?;
                keys.extend(found);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        let strip = format!("{}revoked:", self.prefix);
        for chunk in keys.chunks(500) {
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.get(key).pttl(key);
            }
            let values: Vec<(Option<i64>, i64)> = pipe.query_async(&mut redis).await?;
            for (key, (value, ttl_ms)) in chunk.iter().zip(values) {
                if let (Some(value), Some(suffix)) = (value, key.strip_prefix(&strip)) {
                    // -1: no expiry (none is written so); kept a day.
                    let ttl = if ttl_ms < 0 { 86_400_000 } else { ttl_ms };
                    mirror.apply(suffix, value, Duration::from_millis(ttl.unsigned_abs()));
                }
            }
        }
        Ok(())
    }

    /// Writes revocation `suffix` with its lifetime and publishes it, in one `MULTI`;
    /// this process's mirror has it on return.
    async fn write(&self, suffix: &str, value: i64, ttl_secs: u64) -> Result<(), ApiError> {
        let ttl_secs = ttl_secs.max(1);
        let mut redis = self.redis.clone();
        redis::pipe()
            .atomic()
            .set_ex(format!("{}revoked:{suffix}", self.prefix), value, ttl_secs)
            .ignore()
            .publish(self.channel(), format!("{suffix} {value} {ttl_secs}"))
            .ignore()
            .query_async::<()>(&mut redis)
            .await
            .map_err(unavailable)?;
        if let Some(mirror) = &self.mirror {
            mirror.apply(suffix, value, Duration::from_secs(ttl_secs));
        }
        Ok(())
    }

    pub async fn is_revoked(&self, claims: &Claims) -> Result<bool, ApiError> {
        let token_key = format!("jti:{}", claims.jti);
        let user_key = format!("user:{}", claims.sub);
        if let Some(mirror) = &self.mirror {
            if let (Some(token), Some(cutoff)) = (mirror.get(&token_key), mirror.get(&user_key)) {
                return Ok(revoked(claims, token, cutoff));
            }
        }
        let mut redis = self.redis.clone();
        let (token, cutoff): (Option<i64>, Option<i64>) = redis::pipe()
            .get(format!("{}revoked:{token_key}", self.prefix))
            .get(format!("{}revoked:{user_key}", self.prefix))
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        Ok(revoked(claims, token, cutoff))
    }

    /// Revokes one access token until it would have expired anyway.
    pub async fn revoke_token(&self, claims: &Claims) -> Result<(), ApiError> {
        let ttl = (claims.exp - chrono::Utc::now().timestamp()).max(1);
        self.write(
            &format!("jti:{}", claims.jti),
            1,
            u64::try_from(ttl).unwrap_or(1),
        )
        .await
    }

    /// Revokes every access token of `user` issued before now; kept for one token
    /// lifetime, after which none of them could verify anyway.
    pub async fn revoke_user(&self, user: Uuid, token_ttl_secs: i64) -> Result<(), ApiError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.write(
            &format!("user:{user}"),
            now_ms,
            u64::try_from(token_ttl_secs + 60).unwrap_or(3600),
        )
        .await
    }
}

fn revoked(claims: &Claims, token: Option<i64>, cutoff: Option<i64>) -> bool {
    token.is_some() || cutoff.is_some_and(|ms| claims.issued_at_ms() < ms)
}

/// `key value ttl_secs`, as `write` publishes it.
fn parse(text: &str) -> Option<(&str, i64, Duration)> {
    let mut parts = text.split(' ');
    let key = parts.next()?;
    let value = parts.next()?.parse().ok()?;
    let ttl = parts.next()?.parse().ok()?;
    Some((key, value, Duration::from_secs(ttl)))
}

/// `text` with Redis's glob characters escaped.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Access that ended (a relationship, a gym membership): the users service records the
/// ending change's version here before it commits, and every service's authorization
/// reads it beside its projection, so an ended relationship stops granting access at
/// once, whether or not the change stream is flowing.
impl Revocations {
    fn access_key(&self, kind: &str, grantee: Uuid, subject: Uuid) -> String {
        format!("{}revoked:access:{kind}:{grantee}:{subject}", self.prefix)
    }

    /// Records that `grantee`'s access of `kind` to `subject` ended at `version`.
    pub async fn revoke_access(
        &self,
        kind: &str,
        grantee: Uuid,
        subject: Uuid,
        version: i64,
        ttl_secs: u64,
    ) -> Result<(), ApiError> {
        let mut redis = self.redis.clone();
        redis
            .set_ex::<_, _, ()>(self.access_key(kind, grantee, subject), version, ttl_secs)
            .await
            .map_err(unavailable)
    }

    /// The version at which that access last ended (0: never, or long ago). Always
    /// asked of Redis, never of the mirror: ended access must hold in every process
    /// from the moment the users service's change returns.
    pub async fn access_ended_at(
        &self,
        kind: &str,
        grantee: Uuid,
        subject: Uuid,
    ) -> Result<i64, ApiError> {
        let mut redis = self.redis.clone();
        let version: Option<i64> = redis
            .get(self.access_key(kind, grantee, subject))
            .await
            .map_err(unavailable)?;
        Ok(version.unwrap_or(0))
    }
}

pub(crate) fn unavailable(e: redis::RedisError) -> ApiError {
    ApiError::Unavailable(format!("redis: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_revocation_parses_back() {
        assert_eq!(
            parse("user:4f0e 1764000000000 960"),
            Some(("user:4f0e", 1_764_000_000_000, Duration::from_secs(960)))
        );
        assert_eq!(parse("jti:x one 5"), None);
        assert_eq!(parse("jti:x 1"), None);
    }

    #[test]
    fn the_mirror_keeps_the_later_cutoff_and_forgets_what_expired() {
        let mirror = Mirror::default();
        assert_eq!(mirror.get("user:a"), None, "untrusted until live");
        mirror.set_live(true);
        assert_eq!(mirror.get("user:a"), Some(None));
        mirror.apply("user:a", 20, Duration::from_secs(60));
        mirror.apply("user:a", 10, Duration::from_secs(60));
        assert_eq!(mirror.get("user:a"), Some(Some(20)));
        mirror.apply("jti:b", 1, Duration::ZERO);
        assert_eq!(mirror.get("jti:b"), Some(None), "expired");
        mirror.prune();
        assert_eq!(mirror.state.read().unwrap().entries.len(), 1);
        mirror.set_live(false);
        assert_eq!(mirror.get("user:a"), None);
    }

    #[test]
    fn glob_characters_in_the_prefix_are_escaped() {
        assert_eq!(glob_escape("t1:"), "t1:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
