// The OpenAPI fragment (openapi.rs) is one json! literal, deeper than the default limit.
#![recursion_limit = "512"]
//! The users service: accounts, passwords and the token endpoint (`/api/auth/*`,
//! `/api/users/*`, `/api/profiles/*`, database userdb).

mod domain;
mod email_flow;
mod gyms;
mod handlers;
mod limits;
mod links;
mod openapi;
pub mod password;
mod profiles;
mod refresh;
mod relationships;
mod tokens;

use std::sync::Arc;

use axum::{
    extract::FromRef,
    routing::{get, post},
    Router,
};
use fitsync_platform::{sealed::Sealer, Authenticator, KeySet};
use sqlx::{migrate::Migrator, PgPool};

pub use email_flow::EmailTtl;
pub use limits::LoginLimits;
pub use openapi::openapi;
pub use refresh::RefreshTokens;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct UsersState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
    /// The signing key: only the users service holds it.
    pub keys: Arc<KeySet>,
    pub refresh: RefreshTokens,
    pub limits: LoginLimits,
    pub email_ttl: EmailTtl,
    /// Seals the one-time tokens of emailed links for the notifications service.
    pub sealer: Arc<Sealer>,
    /// How long the record that an access ended stays in Redis.
    pub access_revocation_ttl_secs: u64,
}

/// The users service answers relationship questions from its own tables.
pub struct Directory<'a>(pub &'a PgPool);

impl fitsync_platform::auth::Relationships for Directory<'_> {
    async fn trains(
        &self,
        trainer: uuid::Uuid,
        client: uuid::Uuid,
    ) -> Result<bool, fitsync_platform::ApiError> {
        relationships::trains(self.0, trainer, client).await
    }

    async fn in_gym(
        &self,
        gym: uuid::Uuid,
        user: uuid::Uuid,
    ) -> Result<bool, fitsync_platform::ApiError> {
        gyms::member_of(self.0, gym, user).await
    }
}

pub fn router(state: UsersState) -> Router {
    password::register_metrics();
    Router::new()
        .route("/api/auth/register", post(handlers::register))
        .route("/api/auth/token", post(tokens::token))
        .route("/api/auth/logout", post(tokens::logout))
        .route("/api/auth/verify-email", post(email_flow::verify))
        .route(
            "/api/auth/verify-email/request",
            post(email_flow::resend_verification),
        )
        .route("/api/auth/password-reset", post(email_flow::request_reset))
        .route(
            "/api/auth/password-reset/confirm",
            post(email_flow::confirm_reset),
        )
        .route("/api/auth/logout-all", post(tokens::logout_all))
        .route(
            "/api/auth/service-accounts",
            post(tokens::create_service_account).get(tokens::list_service_accounts),
        )
        .route(
            "/api/auth/service-accounts/{id}/disable",
            post(tokens::disable_service_account),
        )
        .route("/.well-known/jwks.json", get(tokens::jwks))
        .route("/.well-known/openid-configuration", get(tokens::discovery))
        .route("/api/users/me", get(handlers::me))
        .route(
            "/api/users/relationships",
            post(relationships::invite).get(relationships::list),
        )
        .route(
            "/api/users/relationships/{id}/accept",
            post(relationships::accept),
        )
        .route(
            "/api/users/relationships/{id}/decline",
            post(relationships::decline),
        )
        .route(
            "/api/users/relationships/{id}/end",
            post(relationships::end),
        )
        .route(
            "/api/profiles/me",
            get(profiles::mine).put(profiles::update),
        )
        .route("/api/profiles/{id}", get(profiles::get))
        .route("/api/gyms", post(gyms::create))
        .route("/api/gyms/invitations", get(gyms::my_invitations))
        .route("/api/gyms/invitations/{id}/accept", post(gyms::accept))
        .route("/api/gyms/{id}/members", get(gyms::members))
        .route("/api/gyms/{id}/invitations", post(gyms::invite))
        .route(
            "/api/gyms/{id}/members/{user_id}/remove",
            post(gyms::remove),
        )
        .route("/api/users/{id}", get(handlers::get_user))
        .with_state(state)
}
