//! Refresh tokens: opaque, single-use, in Redis. Each use returns a new token of the same
//! family; presenting a spent token again (a stolen copy, or the legitimate one after
//! the thief used it) revokes the whole family. Only a SHA-256 of the secret is stored.
//! A family lives at most `auth.refresh_token_max_lifetime_secs` from its sign-in,
//! however often it is rotated: then the user signs in again.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64URL, Engine};
use fitsync_platform::ApiError;
use rand::RngCore;
use redis::{aio::ConnectionManager, AsyncCommands};
use ring::digest;
use uuid::Uuid;

#[derive(Clone)]
pub struct RefreshTokens {
    redis: ConnectionManager,
    prefix: String,
    ttl_secs: u64,
    max_lifetime_secs: i64,
}

/// Who a refresh token belongs to, and when its family began (the sign-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub user: Uuid,
    pub family: Uuid,
    pub started: i64,
}

fn unavailable(e: redis::RedisError) -> ApiError {
    ApiError::Unavailable(format!("redis: {e}"))
}

fn hash(secret: &str) -> String {
    B64URL.encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

impl RefreshTokens {
    pub fn new(
        redis: ConnectionManager,
        prefix: impl Into<String>,
        ttl_secs: u64,
        max_lifetime_secs: u64,
    ) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            ttl_secs,
            max_lifetime_secs: i64::try_from(max_lifetime_secs).unwrap_or(i64::MAX),
        }
    }

    /// How long an unused refresh token lives (the refresh cookie's Max-Age).
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    fn token_key(&self, id: &str) -> String {
        format!("{}rt:{id}", self.prefix)
    }
    fn family_key(&self, family: Uuid) -> String {
        format!("{}rtfam:{family}:revoked", self.prefix)
    }
    fn families_key(&self, user: Uuid) -> String {
        format!("{}rtuser:{user}:families", self.prefix)
    }

    /// The first token of a new family (a sign-in).
    pub async fn issue(&self, user: Uuid) -> Result<String, ApiError> {
        self.store(Session {
            user,
            family: Uuid::new_v4(),
            started: chrono::Utc::now().timestamp(),
        })
        .await
    }

    /// The next token of a spent one's family.
    pub async fn rotate(&self, spent: &Session) -> Result<String, ApiError> {
        self.store(*spent).await
    }

    async fn store(&self, session: Session) -> Result<String, ApiError> {
        let Session {
            user,
            family,
            started,
        } = session;
        // Never outlives the family.
        let left = started + self.max_lifetime_secs - chrono::Utc::now().timestamp();
        let ttl = (self.ttl_secs as i64).min(left).max(1);
        let id = Uuid::new_v4().simple().to_string();
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let secret = B64URL.encode(secret);
        let key = self.token_key(&id);
        let families = self.families_key(user);
        let mut redis = self.redis.clone();
        redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[
                    ("user", user.to_string()),
                    ("family", family.to_string()),
                    ("started", started.to_string()),
                    ("hash", hash(&secret)),
                ],
            )
            .expire(&key, ttl)
            .sadd(&families, family.to_string())
            .expire(&families, self.ttl_secs as i64)
            .query_async::<()>(&mut redis)
            .await
            .map_err(unavailable)?;
        Ok(format!("{id}.{secret}"))
    }

    /// Looks a token up without spending it.
    async fn find(&self, token: &str) -> Result<(String, Session), ApiError> {
        let (id, secret) = token.split_once('.').ok_or(ApiError::Unauthenticated)?;
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::Unauthenticated);
        }
        let mut redis = self.redis.clone();
        type Fields = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let (user, family, started, stored): Fields = redis
            .hget(self.token_key(id), &["user", "family", "started", "hash"])
            .await
            .map_err(unavailable)?;
        let (Some(user), Some(family), Some(stored)) = (user, family, stored) else {
            return Err(ApiError::Unauthenticated);
        };
        // Tokens issued before families had a start count from their first use since.
        let started = started.unwrap_or_else(|| chrono::Utc::now().timestamp().to_string());
        if !fitsync_platform::auth::same_bytes(stored.as_bytes(), hash(secret).as_bytes()) {
            return Err(ApiError::Unauthenticated);
        }
        let session = Session {
            user: user.parse().map_err(|_| ApiError::Unauthenticated)?,
            family: family.parse().map_err(|_| ApiError::Unauthenticated)?,
            started: started.parse().map_err(|_| ApiError::Unauthenticated)?,
        };
        let revoked: bool = redis
            .exists(self.family_key(session.family))
            .await
            .map_err(unavailable)?;
        if revoked {
            return Err(ApiError::Unauthenticated);
        }
        Ok((id.to_owned(), session))
    }

    /// Spends a token. A second use of the same token revokes its family.
    pub async fn spend(&self, token: &str) -> Result<Session, ApiError> {
        let (id, session) = self.find(token).await?;
        let mut redis = self.redis.clone();
        let uses: i64 = redis
            .hincr(self.token_key(&id), "uses", 1)
            .await
            .map_err(unavailable)?;
        if uses > 1 {
            tracing::warn!(user = %session.user, family = %session.family, "refresh token reused: revoking its family");
            self.revoke_family(session.family).await?;
            return Err(ApiError::Unauthenticated);
        }
        if chrono::Utc::now().timestamp() - session.started >= self.max_lifetime_secs {
            self.revoke_family(session.family).await?;
            return Err(ApiError::Unauthenticated);
        }
        Ok(session)
    }

    pub async fn revoke_family(&self, family: Uuid) -> Result<(), ApiError> {
        let mut redis = self.redis.clone();
        redis
            .set_ex::<_, _, ()>(self.family_key(family), 1, self.ttl_secs)
            .await
            .map_err(unavailable)
    }

    /// Logout: the token's family ends (the token need not be unspent).
    pub async fn revoke(&self, token: &str, user: Uuid) -> Result<(), ApiError> {
        match self.find(token).await {
            Ok((_, session)) if session.user == user => self.revoke_family(session.family).await,
            Ok(_) => Err(ApiError::Forbidden),
            Err(ApiError::Unauthenticated) => Ok(()), // already unusable
            Err(e) => Err(e),
        }
    }

    /// A browser's sign-out: the presented token's family ends, whoever's it is (holding
    /// the token is what a refresh needs, so it is enough to end it).
    pub async fn revoke_presented(&self, token: &str) -> Result<(), ApiError> {
        match self.find(token).await {
            Ok((_, session)) => self.revoke_family(session.family).await,
            Err(ApiError::Unauthenticated) => Ok(()), // already unusable
            Err(e) => Err(e),
        }
    }

    /// Log out everywhere: every family of the user ends.
    pub async fn revoke_all(&self, user: Uuid) -> Result<(), ApiError> {
        let mut redis = self.redis.clone();
        let families: Vec<String> = redis
            .smembers(self.families_key(user))
            .await
            .map_err(unavailable)?;
        let mut pipe = redis::pipe();
        for family in families.iter().filter_map(|f| f.parse::<Uuid>().ok()) {
            pipe.set_ex(self.family_key(family), 1, self.ttl_secs);
        }
        pipe.query_async::<()>(&mut redis)
            .await
            .map_err(unavailable)
    }
}
