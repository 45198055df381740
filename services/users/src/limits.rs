//! Login throttling in Redis: per address (attempts per minute) and per account
//! (consecutive failures lock the account for a while). Accounts are counted by the
//! submitted name whether or not it exists, so the answers reveal nothing.

use std::net::IpAddr;

use fitsync_platform::ApiError;
use redis::aio::ConnectionManager;

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

    fn failures_key(&self, account: &str) -> String {
        format!("{}login:fail:{account}", self.prefix)
    }

    /// Counts an attempt from `address`; refuses past the per-minute budget, or when
    /// `account` is locked.
    pub async fn admit(&self, address: IpAddr, account: &str) -> Result<(), ApiError> {
        let minute = chrono::Utc::now().timestamp() / 60;
        let address_key = format!("{}login:addr:{address}:{minute}", self.prefix);
        let mut redis = self.redis.clone();
        let (attempts, failures): (i64, Option<i64>) = redis::pipe()
            .atomic()
            .incr(&address_key, 1)
            .ignore()
            .expire(&address_key, 120)
            .ignore()
            .get(&address_key)
            .get(self.failures_key(account))
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        if attempts > self.per_address_per_minute || failures.unwrap_or(0) >= self.max_failures {
            return Err(ApiError::TooManyRequests);
        }
        Ok(())
    }

    /// Counts a registration from `address` against its own per-minute budget.
    pub async fn admit_registration(&self, address: IpAddr) -> Result<(), ApiError> {
        let minute = chrono::Utc::now().timestamp() / 60;
        let key = format!("{}register:addr:{address}:{minute}", self.prefix);
        let mut redis = self.redis.clone();
        let (attempts,): (i64,) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, 120)
            .ignore()
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        if attempts > self.per_address_per_minute {
            return Err(ApiError::TooManyRequests);
        }
        Ok(())
    }

    pub async fn failed(&self, account: &str) -> Result<(), ApiError> {
        let key = self.failures_key(account);
        let mut redis = self.redis.clone();
        redis::pipe()
            .incr(&key, 1)
            .expire(&key, self.lockout_secs)
            .query_async::<()>(&mut redis)
            .await
            .map_err(unavailable)
    }

    pub async fn succeeded(&self, account: &str) -> Result<(), ApiError> {
        let mut redis = self.redis.clone();
        redis::cmd("DEL")
            .arg(self.failures_key(account))
            .query_async::<()>(&mut redis)
            .await
            .map_err(unavailable)
    }
}
