//! The users service: accounts, passwords and the token endpoint (`/api/auth/*`,
//! `/api/users/*`, `/api/profiles/*`, database userdb).

mod domain;
mod handlers;
mod openapi;
mod password;

use std::sync::Arc;

use axum::{
    extract::FromRef,
    routing::{get, post},
    Router,
};
use fitsync_platform::TokenKeys;
use sqlx::{migrate::Migrator, PgPool};

pub use openapi::openapi;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct UsersState {
    pub pool: PgPool,
    pub keys: Arc<TokenKeys>,
}

pub fn router(state: UsersState) -> Router {
    Router::new()
        .route("/api/auth/register", post(handlers::register))
        .route("/api/auth/token", post(handlers::token))
        .route("/api/auth/jwks.json", get(handlers::jwks))
        .route("/.well-known/jwks.json", get(handlers::jwks))
        .route("/api/users/me", get(handlers::me))
        .route("/api/users/{id}", get(handlers::get_user))
        .with_state(state)
}
