//! The notifications service (`/api/notifications/*`, database notificationdb): delivers
//! what other services ask for on `fitsync.notifications`, by channel, and records every
//! delivery; turns events addressed to a user into in-app notifications. Today: email over
//! SMTP, and the in-app inbox (trainer feedback on workouts). SMS, web push, real-time
//! in-app (SSE), preferences and quiet hours join here.

mod email;
mod handlers;
mod inbox;
mod sender;

use std::sync::Arc;

use axum::extract::FromRef;
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use email::Mailer;
pub use inbox::InboxWriter;
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
        .routes(routes!(handlers::inbox))
        .with_state(state)
}
