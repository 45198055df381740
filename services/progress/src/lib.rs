//! The progress service: progress charts from the tables the analytics job writes
//! (`/api/progress/*`; `/api/metrics/*` and `/api/analytics/*` join it). Database progressdb.

pub mod handlers;
mod openapi;

use std::sync::Arc;

use axum::{extract::FromRef, routing::get, Router};
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};

pub use openapi::openapi;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct ProgressState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
}

pub fn router(state: ProgressState) -> Router {
    Router::new()
        .route("/api/progress/{client_id}/e1rm", get(handlers::e1rm))
        .route("/api/progress/{client_id}/volume", get(handlers::volume))
        .with_state(state)
}
