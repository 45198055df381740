use std::sync::Arc;

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts, Method},
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

/// The browser session's cookies (`POST /api/auth/session` sets them).
pub mod cookies {
    /// The access token (HttpOnly).
    pub const ACCESS: &str = "fitsync_access";
    /// The refresh token (HttpOnly, sent only to `/api/auth/session`).
    pub const REFRESH: &str = "fitsync_refresh";
    /// The CSRF token, readable by the page, which repeats it in [`CSRF_HEADER`].
    pub const CSRF: &str = "fitsync_csrf";
    pub const CSRF_HEADER: &str = "x-csrf-token";
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Equal, in time that depends only on the lengths.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The CSRF check for a request authenticated by the session cookie: safe methods pass;
/// unsafe ones must carry the token signed into the access token in `X-CSRF-Token`.
fn csrf_check(parts: &Parts, claims: &Claims) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = parts
        .headers
        .get(cookies::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    match (sent, claims.csrf.as_deref()) {
        (Some(sent), Some(expected)) if same_bytes(sent.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::ForbiddenBecause(
            "a request authenticated by the session cookie must repeat its CSRF token in the X-CSRF-Token header",
        )),
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    /// A bearer token (API clients), else the session cookie (browsers, with the CSRF
    /// check on unsafe methods). A bearer token wins when both are sent.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::<Authenticator>::from_ref(state);
        if let Some(token) = bearer(parts) {
            return auth.authenticate(token).await.map(AuthUser);
        }
        let token = cookie(&parts.headers, cookies::ACCESS).ok_or(ApiError::Unauthenticated)?;
        let claims = auth.authenticate(token).await?;
        csrf_check(parts, &claims)?;
        Ok(AuthUser(claims))
    }
}
