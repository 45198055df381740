//! The schedule service: trainers' bookable hours and free slots
//! (`/api/availability/*`), session types, rooms and classes (`/api/sessions/*`), and
//! bookings with waitlists (`/api/bookings/*`), packages bought through a payment
//! gateway and the credits they give (`/api/packages/*`, `/api/payments/webhook`,
//! `/api/credits`), and iCalendar feeds (`/api/calendar/*`). Database scheduledb.
//!
//! No double booking is possible: the database's exclusion constraints keep a trainer,
//! a room and a client out of two overlapping sessions, and a check keeps a class's
//! places taken within its capacity (see the migration). Booking transactions for one
//! trainer are serialized by a lock on the trainer's schedule row, which makes the
//! per-day and per-week limits exact and the slot cache's key current.

mod access;
mod availability;
mod bookings;
mod calendar;
mod credits;
mod payments;
mod sessions;
pub mod slots;

use std::sync::Arc;

use axum::extract::FromRef;
use fitsync_platform::Authenticator;
use redis::aio::ConnectionManager;
use sqlx::{migrate::Migrator, PgPool};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use bookings::{sweep, Swept};
pub use payments::{simulator, PaymentGateway, SimulatedGateway, SIGNATURE_HEADER};

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Where events of this service say they come from.
pub(crate) const SOURCE: &str = "/fitsync/schedule";

#[derive(Clone, FromRef)]
pub struct ScheduleState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
    pub cache: SlotCache,
    pub gateway: Arc<dyn PaymentGateway>,
}

/// The "availability calendars" cache: computed free slots in Redis, keyed by the
/// generations of the trainer's schedule (and room) that every change bumps in its own
/// transaction, so an answer computed before a commit is never served after it.
#[derive(Clone)]
pub struct SlotCache {
    pub redis: ConnectionManager,
    pub prefix: String,
    pub ttl_secs: u64,
}

/// The service's routes and their OpenAPI operations, built together.
pub fn router(state: ScheduleState) -> OpenApiRouter {
    OpenApiRouter::with_openapi(fitsync_platform::openapi::document())
        .routes(routes!(availability::get, availability::put))
        .routes(routes!(availability::slots))
        .routes(routes!(sessions::create_type, sessions::list_types))
        .routes(routes!(sessions::create_room, sessions::list_rooms))
        .routes(routes!(sessions::schedule, sessions::list))
        .routes(routes!(sessions::get))
        .routes(routes!(bookings::book, bookings::list))
        .routes(routes!(bookings::get))
        .routes(routes!(bookings::cancel))
        .routes(routes!(bookings::check_in))
        .routes(routes!(bookings::attendance))
        .routes(routes!(bookings::reschedule))
        .routes(routes!(bookings::record))
        .routes(routes!(bookings::book_series))
        .routes(routes!(bookings::cancel_series))
        .routes(routes!(payments::create, payments::list))
        .routes(routes!(payments::checkout))
        .routes(routes!(payments::webhook))
        .routes(routes!(payments::credits))
        .routes(routes!(calendar::create, calendar::list))
        .routes(routes!(calendar::revoke))
        .routes(routes!(calendar::feed))
        .with_state(state)
}

/// Runs `sweep` every `interval` until shutdown; a failed sweep is logged and retried at
/// the next tick (it never stops the process).
pub async fn run_sweeper(
    pool: PgPool,
    interval: std::time::Duration,
    grace: chrono::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        match sweep(&pool, grace).await {
            Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "schedule sweep"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "schedule sweep failed; retrying"),
        }
    }
}
