//! The users service: accounts, passwords and the token endpoint (`/api/auth/*`,
//! `/api/users/*`, `/api/profiles/*`, database userdb).

mod domain;
mod email_flow;
mod gyms;
mod handlers;
mod limits;
mod links;
pub mod password;
mod profiles;
mod refresh;
mod relationships;
mod session;
mod tokens;

use std::sync::Arc;

use axum::extract::FromRef;
use fitsync_platform::{sealed::Sealer, Authenticator, KeySet};
use sqlx::{migrate::Migrator, PgPool};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use email_flow::EmailTtl;
pub use limits::LoginLimits;
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
    /// Whether the browser session's cookies are marked `Secure`.
    pub session_cookie_secure: bool,
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

/// The service's routes and their OpenAPI operations, built together: a route cannot
/// exist without its operation in the document.
pub fn router(state: UsersState) -> OpenApiRouter {
    password::register_metrics();
    OpenApiRouter::with_openapi(fitsync_platform::openapi::document())
        .routes(routes!(handlers::register))
        .routes(routes!(tokens::token))
        .routes(routes!(tokens::logout))
        .routes(routes!(tokens::logout_all))
        .routes(routes!(session::create))
        .routes(routes!(session::refresh))
        .routes(routes!(session::logout))
        .routes(routes!(email_flow::verify))
        .routes(routes!(email_flow::resend_verification))
        .routes(routes!(email_flow::request_reset))
        .routes(routes!(email_flow::confirm_reset))
        .routes(routes!(
            tokens::create_service_account,
            tokens::list_service_accounts
        ))
        .routes(routes!(tokens::disable_service_account))
        .routes(routes!(tokens::jwks))
        .routes(routes!(tokens::discovery))
        .routes(routes!(handlers::me))
        .routes(routes!(handlers::get_user))
        .routes(routes!(relationships::invite, relationships::list))
        .routes(routes!(relationships::accept))
        .routes(routes!(relationships::decline))
        .routes(routes!(relationships::end))
        .routes(routes!(profiles::mine))
        .routes(routes!(profiles::update_client))
        .routes(routes!(profiles::update_trainer))
        .routes(routes!(profiles::get))
        .routes(routes!(gyms::create))
        .routes(routes!(gyms::my_invitations))
        .routes(routes!(gyms::accept))
        .routes(routes!(gyms::members))
        .routes(routes!(gyms::invite, gyms::sent_invitations))
        .routes(routes!(gyms::remove))
        .with_state(state)
}
