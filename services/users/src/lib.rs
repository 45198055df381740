//! The users service: accounts, passwords and the token endpoint (`/api/auth/*`,
//! `/api/users/*`, `/api/profiles/*`, database userdb).

mod domain;
mod handlers;
mod limits;
mod openapi;
mod password;
mod refresh;
mod tokens;

use std::sync::Arc;

use axum::{
    extract::FromRef,
    routing::{get, post},
    Router,
};
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};

pub use limits::LoginLimits;
pub use openapi::openapi;
pub use refresh::RefreshTokens;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct UsersState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
    pub refresh: RefreshTokens,
    pub limits: LoginLimits,
}

pub fn router(state: UsersState) -> Router {
    Router::new()
        .route("/api/auth/register", post(handlers::register))
        .route("/api/auth/token", post(tokens::token))
        .route("/api/auth/logout", post(tokens::logout))
        .route("/api/auth/logout-all", post(tokens::logout_all))
        .route(
            "/api/auth/service-accounts",
            post(tokens::create_service_account),
        )
        .route("/.well-known/jwks.json", get(tokens::jwks))
        .route("/.well-known/openid-configuration", get(tokens::discovery))
        .route("/api/users/me", get(handlers::me))
        .route("/api/users/{id}", get(handlers::get_user))
        .with_state(state)
}
