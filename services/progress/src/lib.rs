//! The progress service: progress charts from the tables the analytics job writes
//! (`/api/progress/*`; `/api/metrics/*` and `/api/analytics/*` join it). Database progressdb.

pub mod adherence;
pub mod business;
pub mod charts;
pub mod export;
pub mod handlers;
pub mod metrics;

use std::sync::Arc;

use axum::extract::FromRef;
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};
use utoipa_axum::{router::OpenApiRouter, routes};

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct ProgressState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
}

/// The service's routes and their OpenAPI operations, built together.
pub fn router(state: ProgressState) -> OpenApiRouter {
    OpenApiRouter::with_openapi(fitsync_platform::openapi::document())
        .routes(routes!(handlers::e1rm))
        .routes(routes!(handlers::volume))
        .routes(routes!(handlers::nutrition))
        .routes(routes!(charts::series))
        .routes(routes!(charts::records))
        .routes(routes!(charts::muscles))
        .routes(routes!(charts::workload))
        .routes(routes!(charts::plateaus))
        .routes(routes!(adherence::adherence))
        .routes(routes!(adherence::at_risk))
        .routes(routes!(business::gym_kpis))
        .routes(routes!(business::gym_series))
        .routes(routes!(business::trainer_kpis))
        .routes(routes!(export::client_export))
        .routes(routes!(export::trainer_export))
        .routes(routes!(export::gym_export))
        .routes(routes!(metrics::types, metrics::define_type))
        .routes(routes!(metrics::record, metrics::measurements))
        .routes(routes!(metrics::delete_measurement))
        .routes(routes!(metrics::set_goal, metrics::goals))
        .routes(routes!(metrics::delete_goal))
        .routes(routes!(metrics::add_health_record, metrics::health_records))
        .routes(routes!(metrics::delete_health_record))
        .with_state(state)
}
