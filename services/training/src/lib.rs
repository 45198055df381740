//! The training service: the workout log (`/api/workouts/*`); programs (`/api/programs/*`)
//! and diet plans (`/api/diets/*`) join it here. Database trainingdb.

mod domain;
mod handlers;
mod openapi;

use std::sync::Arc;

use axum::{extract::FromRef, routing::post, Router};
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};

pub use domain::{ExerciseSlug, Kilograms, Reps, Rir};
pub use openapi::openapi;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct TrainingState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
}

pub fn router(state: TrainingState) -> Router {
    Router::new()
        .route(
            "/api/workouts/sets",
            post(handlers::log_set).get(handlers::list_sets),
        )
        .with_state(state)
}
