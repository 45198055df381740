//! Throttling and lockout in Redis.
//!
//! - Budgets per caller address and per minute, one per flow (sign-in, registration,
//!   refresh, reset confirmation), so that one flow cannot spend another's budget.
//! - Lockout per account: every attempt takes a slot *before* the secret is checked (an
//!   atomic `INCR`), so parallel guesses cannot all slip through before the first
//!   failure is counted; a success frees the slots; past `max_failures` the account is
//!   locked for `lockout_secs`. Accounts are counted by the submitted name whether or not
//!   it exists, so the answers reveal nothing.
//! - Keys live in separate namespaces per kind of account (`user`, `client`), hold a
//!   SHA-256 of the name (bounded length, whatever is submitted), and names longer than
//!   any valid one are refused before they reach Redis.

use std::net::IpAddr;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64URL, Engine};
use fitsync_platform::ApiError;
use redis::aio::ConnectionManager;
use ring::digest;
use uuid::Uuid;

/// What kind of account a lockout counter is for.
#[derive(Debug, Clone, Copy)]
pub enum Account {
    /// A user, by the submitted email address.
    User,
    /// A service account, by its client id.
    Client,
}

impl Account {
    fn namespace(self) -> &'static str {
        match self {
            Account::User => "user",
            Account::Client => "client",
        }
    }

    /// The longest name that can be valid: an email address, or a client id.
    fn max_len(self) -> usize {
        match self {
            Account::User => 254,
            Account::Client => 63,
        }
    }
}

/// A per-address budget of one flow.
#[derive(Debug, Clone, Copy)]
pub enum Flow {
    SignIn,
    Registration,
    Refresh,
    ResetRequest,
    ResetConfirm,
}

impl Flow {
    fn namespace(self) -> &'static str {
        match self {
            Flow::SignIn => "signin",
            Flow::Registration => "register",
            Flow::Refresh => "refresh",
            Flow::ResetRequest => "reset-request",
            Flow::ResetConfirm => "reset-confirm",
        }
    }
}

#[derive(Clone)]
pub struct LoginLimits {
    redis: ConnectionManager,
    prefix: String,
    pub max_failures: i64,
    pub lockout_secs: i64,
    pub per_address_per_minute: i64,
}

fn unavailable(e: redis::RedisError) -> ApiError {
    ApiError::Unavailable(format!("redis: {e}"))
}

fn digest_of(name: &str) -> String {
    B64URL.encode(digest::digest(&digest::SHA256, name.as_bytes()))
}

/// Emails sent on request per user or address and per hour (verification resends,
/// password resets).
const EMAILS_PER_HOUR: i64 = 5;

impl LoginLimits {
    pub fn new(
        redis: ConnectionManager,
        prefix: impl Into<String>,
        max_failures: i64,
        lockout_secs: i64,
        per_address_per_minute: i64,
    ) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            max_failures,
            lockout_secs,
            per_address_per_minute,
        }
    }

    fn failures_key(&self, kind: Account, name: &str) -> String {
        format!(
            "{}lockout:{}:{}",
            self.prefix,
            kind.namespace(),
            digest_of(&name.trim().to_lowercase())
        )
    }

    /// Adds one to `key` (expiring after `ttl` seconds); the new count.
    async fn count(&self, key: &str, ttl: i64) -> Result<i64, ApiError> {
        let mut redis = self.redis.clone();
        let (n,): (i64,) = redis::pipe()
            .atomic()
            .incr(key, 1)
            .expire(key, ttl)
            .ignore()
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        Ok(n)
    }

    /// Counts one request of `flow` from `address`; refuses past the per-minute budget.
    pub async fn admit(&self, flow: Flow, address: IpAddr) -> Result<(), ApiError> {
        let minute = chrono::Utc::now().timestamp() / 60;
        let key = format!(
            "{}budget:{}:{address}:{minute}",
            self.prefix,
            flow.namespace()
        );
        if self.count(&key, 120).await? > self.per_address_per_minute {
            return Err(ApiError::TooManyRequests);
        }
        Ok(())
    }

    /// Takes a lockout slot for an attempt on `name` before its secret is checked.
    /// Refuses a name too long to be valid (400) and a locked account (429).
    pub async fn attempt(&self, kind: Account, name: &str) -> Result<(), ApiError> {
        if name.len() > kind.max_len() {
            return Err(ApiError::BadRequest("the account name is too long".into()));
        }
        let key = self.failures_key(kind, name);
        if self.count(&key, self.lockout_secs).await? > self.max_failures {
            return Err(ApiError::TooManyRequests);
        }
        Ok(())
    }

    /// The attempt succeeded: its slot and the failures before it are forgiven.
    pub async fn succeeded(&self, kind: Account, name: &str) -> Result<(), ApiError> {
        let mut redis = self.redis.clone();
        redis::cmd("DEL")
            .arg(self.failures_key(kind, name))
            .query_async::<()>(&mut redis)
            .await
            .map_err(unavailable)
    }

    /// Counts an email sent on request for `subject` (a user, or an address); refuses
    /// past `EMAILS_PER_HOUR`.
    pub async fn admit_email(&self, what: &str, subject: &str) -> Result<(), ApiError> {
        let hour = chrono::Utc::now().timestamp() / 3600;
        let key = format!(
            "{}emails:{what}:{}:{hour}",
            self.prefix,
            digest_of(&subject.to_lowercase())
        );
        if self.count(&key, 7200).await? > EMAILS_PER_HOUR {
            return Err(ApiError::TooManyRequests);
        }
        Ok(())
    }

    /// As `admit_email`, for a user.
    pub async fn admit_email_to_user(&self, what: &str, user: Uuid) -> Result<(), ApiError> {
        self.admit_email(what, &user.to_string()).await
    }
}
