//! The training service: the workout log (`/api/workouts/*`); programs (`/api/programs/*`)
//! and diet plans (`/api/diets/*`) join it here. Database trainingdb.

mod domain;
mod exercises;
mod handlers;
pub mod library;

use std::sync::Arc;

use axum::extract::FromRef;
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use domain::{slugify, ExerciseSlug, Kilograms, Reps, Rir};

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, FromRef)]
pub struct TrainingState {
    pub pool: PgPool,
    pub auth: Arc<Authenticator>,
    pub search: Arc<ExerciseSearch>,
}

/// The exercise index in OpenSearch (built by the indexer from the change stream).
pub struct ExerciseSearch {
    pub client: opensearch::OpenSearch,
    pub index: String,
}

impl ExerciseSearch {
    pub fn new(url: &str, index: String) -> anyhow::Result<Self> {
        Ok(Self {
            client: opensearch::OpenSearch::new(
                opensearch::http::transport::Transport::single_node(url)?,
            ),
            index,
        })
    }
}

/// The service's routes and their OpenAPI operations, built together.
pub fn router(state: TrainingState) -> OpenApiRouter {
    OpenApiRouter::with_openapi(fitsync_platform::openapi::document())
        .routes(routes!(handlers::log_set, handlers::list_sets))
        .routes(routes!(handlers::correct_set, handlers::delete_set))
        .routes(routes!(exercises::search, exercises::create))
        .routes(routes!(exercises::get, exercises::update))
        .with_state(state)
}
