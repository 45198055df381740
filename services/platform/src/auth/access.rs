//! The relationships authorization depends on. The users service answers from its own
//! tables; every other service from `access_grants`, its projection of the users
//! service's events (written by the access projector in `stream-jobs`), with two
//! guards against the projection being behind:
//!
//! - an ended relationship or membership is recorded in Redis by the users service
//!   before it commits (`Revocations::revoke_access`, with the change's version), and
//!   while such a record exists a grant counts only if the projection holds a newer
//!   version: access ends at once, with the change stream down or not;
//! - a projection whose heartbeats are older than `auth.access_max_staleness_secs` (or
//!   that has none) grants nothing: the check fails closed with 503.

use std::future::Future;

use sqlx::PgPool;
use uuid::Uuid;

use super::Authenticator;
use crate::problem::ApiError;

pub trait Relationships {
    /// `trainer` currently trains `client`.
    fn trains(
        &self,
        trainer: Uuid,
        client: Uuid,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// `user` currently belongs to `gym`.
    fn in_gym(&self, gym: Uuid, user: Uuid) -> impl Future<Output = Result<bool, ApiError>> + Send;
}

/// The projection in a service's own database.
#[derive(Debug, Clone, Copy)]
pub struct Grants<'a> {
    pool: &'a PgPool,
    auth: &'a Authenticator,
}

impl<'a> Grants<'a> {
    pub fn new(pool: &'a PgPool, auth: &'a Authenticator) -> Self {
        Self { pool, auth }
    }

    async fn active(&self, kind: &str, grantee: Uuid, subject: Uuid) -> Result<bool, ApiError> {
        let ended = self
            .auth
            .revocations()
            .access_ended_at(kind, grantee, subject)
            .await?;
        let row = sqlx::query!(
            r#"select
                 coalesce((select active and ($4::bigint = 0 or version > $4::bigint) from access_grants
                           where kind = $1 and grantee = $2 and subject = $3), false) as "granted!",
                 coalesce((select count(*) >= max(partitions)
                                  and min(as_of) > now() - make_interval(secs => $5)
                           from access_freshness), false) as "fresh!""#,
            kind,
            grantee,
            subject,
            ended,
            self.auth.access_max_staleness_secs()
        )
        .fetch_one(self.pool)
        .await?;
        let (granted, fresh) = (row.granted, row.fresh);
        if !fresh {
            return Err(ApiError::Unavailable(
                "the access projection is behind the users service".into(),
            ));
        }
        Ok(granted)
    }
}

impl Grants<'_> {
    /// Everyone `subject` currently holds a grant from (their trainers and gyms), with
    /// the same two guards as a single check: a stale projection fails closed (503), and
    /// an ended relationship the projection has not seen yet no longer counts.
    pub async fn grantees(&self, subject: Uuid) -> Result<Vec<Uuid>, ApiError> {
        let rows = sqlx::query!(
            r#"select kind, grantee, version,
                 coalesce((select count(*) >= max(partitions)
                                  and min(as_of) > now() - make_interval(secs => $2)
                           from access_freshness), false) as "fresh!"
               from access_grants where subject = $1 and active"#,
            subject,
            self.auth.access_max_staleness_secs()
        )
        .fetch_all(self.pool)
        .await?;
        let fresh = match rows.first() {
            Some(row) => row.fresh,
            None => {
                sqlx::query_scalar!(
                    r#"select coalesce((select count(*) >= max(partitions)
                                         and min(as_of) > now() - make_interval(secs => $1)
                                  from access_freshness), false) as "fresh!""#,
                    self.auth.access_max_staleness_secs()
                )
                .fetch_one(self.pool)
                .await?
            }
        };
        if !fresh {
            return Err(ApiError::Unavailable(
                "the access projection is behind the users service".into(),
            ));
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let ended = self
                .auth
                .revocations()
                .access_ended_at(&row.kind, row.grantee, subject)
                .await?;
            if ended == 0 || row.version > ended {
                out.push(row.grantee);
            }
        }
        Ok(out)
    }
}

impl Relationships for Grants<'_> {
    async fn trains(&self, trainer: Uuid, client: Uuid) -> Result<bool, ApiError> {
        self.active("trainer", trainer, client).await
    }

    async fn in_gym(&self, gym: Uuid, user: Uuid) -> Result<bool, ApiError> {
        self.active("gym", gym, user).await
    }
}
