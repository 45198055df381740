//! The training service: the workout log (`/api/workouts/*`); programs (`/api/programs/*`)
//! and diet plans (`/api/diets/*`) join it here. Database trainingdb.

mod domain;
mod handlers;

use std::sync::Arc;

use axum::extract::FromRef;
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use domain::{ExerciseSlug, Kilograms, Reps, Rir};

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct TrainingState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
}

/// The service's routes and their OpenAPI operations, built together.
pub fn router(state: TrainingState) -> OpenApiRouter {
    OpenApiRouter::with_openapi(fitsync_platform::openapi::document())
        .routes(routes!(handlers::log_set, handlers::list_sets))
        .with_state(state)
}
