use std::sync::Arc;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts},
};
use uuid::Uuid;

use super::{
    access::Relationships,
    claims::{Claims, Role},
    Authenticator,
};
use crate::problem::ApiError;

/// An authenticated caller. Extracting it is the authentication; the methods below are
/// the authorization every handler calls.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

impl AuthUser {
    pub fn id(&self) -> Uuid {
        self.0.sub
    }

    pub fn role(&self) -> Role {
        self.0.role
    }

    pub fn claims(&self) -> &Claims {
        &self.0
    }

    /// Data that belongs to `owner` (a client's workouts, progress, body metrics): the
    /// owner; their current trainer; the gym they belong to (its owner's token names it);
    /// admins and service accounts. Ending a relationship or leaving a gym ends access.
    pub async fn may_read_client(
        &self,
        owner: Uuid,
        relationships: &impl Relationships,
    ) -> Result<(), ApiError> {
        let allowed = match self.role() {
            Role::Admin | Role::Service => true,
            _ if self.id() == owner => true,
            Role::Trainer => relationships.trains(self.id(), owner).await?,
            Role::Gym => match self.0.gym {
                Some(gym) => relationships.in_gym(gym, owner).await?,
                None => false,
            },
            Role::Client => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// Only the client may write their own training log.
    pub fn may_write_client(&self, owner: Uuid) -> Result<(), ApiError> {
        if self.role() == Role::Client && self.id() == owner {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role()) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::<Authenticator>::from_ref(state);
        let token = bearer(parts).ok_or(ApiError::Unauthenticated)?;
        auth.authenticate(token).await.map(AuthUser)
    }
}
