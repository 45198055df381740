//! The notifications service (`/api/notifications/*`, database notificationdb): delivers
//! what other services ask for on `fitsync.notifications`, by channel, and records every
//! delivery. Today: email over SMTP. SMS, web push, in-app (SSE), preferences and quiet
//! hours join here.

mod email;
mod handlers;
mod sender;

use std::sync::Arc;

use axum::{extract::FromRef, routing::get, Router};
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};

pub use email::Mailer;
pub use sender::EmailSender;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct NotificationsState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
}

pub fn router(state: NotificationsState) -> Router {
    Router::new()
        .route("/api/notifications/deliveries", get(handlers::deliveries))
        .with_state(state)
}

pub fn openapi() -> serde_json::Value {
    use fitsync_platform::openapi::responses;
    serde_json::json!({"paths": {"/api/notifications/deliveries": {"get": {
        "summary": "Deliveries to the caller (admins: to any user_id), newest first",
        "security": [{"bearer": []}],
        "parameters": [{"name": "user_id", "in": "query", "schema": {"type": "string", "format": "uuid"}}],
        "responses": responses(serde_json::json!({"200": {"description": "Deliveries"}}))
    }}}})
}
