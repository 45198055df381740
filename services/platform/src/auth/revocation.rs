//! Revoked access tokens, in Redis: one token (logout) or every token of a user issued
//! before a moment (log out everywhere). Checked on every authenticated request with one
//! round trip; if Redis cannot answer, requests fail closed (503), never open.

use redis::{aio::ConnectionManager, AsyncCommands};
use uuid::Uuid;

use super::claims::Claims;
use crate::problem::ApiError;

#[derive(Clone)]
pub struct Revocations {
    redis: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Revocations {
    pub fn new(redis: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
        }
    }

    fn token_key(&self, jti: Uuid) -> String {
        format!("{}revoked:jti:{jti}", self.prefix)
    }

    fn user_key(&self, user: Uuid) -> String {
        format!("{}revoked:user:{user}", self.prefix)
    }

    pub async fn is_revoked(&self, claims: &Claims) -> Result<bool, ApiError> {
        let mut redis = self.redis.clone();
        let (token, cutoff): (Option<String>, Option<i64>) = redis::pipe()
            .get(self.token_key(claims.jti))
            .get(self.user_key(claims.sub))
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        Ok(token.is_some() || cutoff.is_some_and(|ms| claims.issued_at_ms() < ms))
    }

    /// Revokes one access token until it would have expired anyway.
    pub async fn revoke_token(&self, claims: &Claims) -> Result<(), ApiError> {
        let ttl = (claims.exp - chrono::Utc::now().timestamp()).max(1);
        let mut redis = self.redis.clone();
        redis
            .set_ex::<_, _, ()>(
                self.token_key(claims.jti),
                1,
                u64::try_from(ttl).unwrap_or(1),
            )
            .await
            .map_err(unavailable)
    }

    /// Revokes every access token of `user` issued before now; kept for one token
    /// lifetime, after which none of them could verify anyway.
    pub async fn revoke_user(&self, user: Uuid, token_ttl_secs: i64) -> Result<(), ApiError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut redis = self.redis.clone();
        redis
            .set_ex::<_, _, ()>(
                self.user_key(user),
                now_ms,
                u64::try_from(token_ttl_secs + 60).unwrap_or(3600),
            )
            .await
            .map_err(unavailable)
    }
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

    /// The version at which that access last ended (0: never, or long ago).
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
