//! The notifications service (`/api/notifications/*`, database notificationdb): delivers
//! what other services ask for on `fitsync.notifications`, by channel, and records every
//! delivery; keeps each user's in-app inbox (filled by the alerts job, `stream-jobs`) and
//! streams it live over Server-Sent Events; delivers alerts by email, SMS (`sms`) and web
//! push (`push`) as each user's preferences and quiet hours allow (`delivery`).

mod delivery;
mod email;
mod handlers;
mod preferences;
pub mod push;
mod sender;
mod settings;
pub mod sms;
mod stream;

use std::sync::Arc;

use axum::extract::FromRef;
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use delivery::{Channel, DeliveryWorker};
pub use email::Mailer;
pub use sender::EmailSender;
pub use stream::Hub;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The `source` of the events this service emits.
pub const SOURCE: &str = "/fitsync/notifications";

#[derive(Clone, FromRef)]
pub struct NotificationsState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
    pub hub: Arc<Hub>,
    pub push: push::PushSender,
    /// None: no SMS gateway here (numbers cannot be set).
    pub sms: Option<Arc<dyn sms::SmsProvider>>,
}

/// The service's routes and their OpenAPI operations, built together.
pub fn router(state: NotificationsState) -> OpenApiRouter {
    OpenApiRouter::with_openapi(fitsync_platform::openapi::document())
        .routes(routes!(handlers::deliveries))
        .routes(routes!(handlers::inbox))
        .routes(routes!(handlers::unread))
        .routes(routes!(handlers::mark_read))
        .routes(routes!(handlers::read_all))
        .routes(routes!(stream::stream))
        .routes(routes!(
            preferences::get_preferences,
            preferences::put_preferences
        ))
        .routes(routes!(preferences::alert_deliveries))
        .routes(routes!(preferences::replay))
        .routes(routes!(push::key))
        .routes(routes!(push::subscribe, push::subscriptions))
        .routes(routes!(push::unsubscribe))
        .routes(routes!(sms::get_phone, sms::put_phone, sms::delete_phone))
        .routes(routes!(sms::verify_phone))
        .routes(routes!(sms::receipt))
        .routes(routes!(settings::list))
        .routes(routes!(settings::put, settings::delete))
        .with_state(state)
}
