//! The notifications service (`/api/notifications/*`, database notificationdb): delivers
//! what other services ask for on `fitsync.notifications`, by channel, and records every
//! delivery. Today: email over SMTP. SMS, web push, in-app (SSE), preferences and quiet
//! hours join here.

mod email;
mod handlers;
mod sender;

use std::sync::Arc;

use axum::extract::FromRef;
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use email::Mailer;
pub use sender::EmailSender;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct NotificationsState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
}

/// The service's routes and their OpenAPI operations, built together.
pub fn router(state: NotificationsState) -> OpenApiRouter {
    OpenApiRouter::with_openapi(fitsync_platform::openapi::document())
        .routes(routes!(handlers::deliveries))
        .with_state(state)
}
