//! The relationships authorization depends on. The users service answers from its own
//! tables; every other service from `access_grants`, its projection of the users
//! service's events (written by the access projector in `stream-jobs`).

use std::future::Future;

use sqlx::PgPool;
use uuid::Uuid;

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
pub struct Grants<'a>(pub &'a PgPool);

impl Grants<'_> {
    async fn active(&self, kind: &str, grantee: Uuid, subject: Uuid) -> Result<bool, ApiError> {
        Ok(sqlx::query_scalar(
            "select exists(select 1 from access_grants where kind = $1 and grantee = $2 and subject = $3 and active)",
        )
        .bind(kind)
        .bind(grantee)
        .bind(subject)
        .fetch_one(self.0)
        .await?)
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
