//! The training service: the workout log and sessions with trainer feedback
//! (`/api/workouts/*`), the exercise library (`/api/exercises/*`), programs
//! (`/api/programs/*`) and diet plans with the food log (`/api/diets/*`). Database
//! trainingdb.

mod diets;
mod domain;
mod exercises;
mod handlers;
pub mod library;
mod programs;
mod workouts;

use std::sync::Arc;

use axum::extract::FromRef;
use fitsync_platform::Authenticator;
use sqlx::{migrate::Migrator, PgPool};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use domain::{slugify, ExerciseSlug, Kilograms, Reps, Rir, Unit, KG_PER_LB};

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
        .routes(routes!(handlers::preferences, handlers::set_preferences))
        .routes(routes!(workouts::start, workouts::list))
        .routes(routes!(workouts::get, workouts::update, workouts::delete))
        .routes(routes!(workouts::comment))
        .routes(routes!(exercises::search, exercises::create))
        .routes(routes!(exercises::get, exercises::update))
        .routes(routes!(programs::create, programs::list))
        .routes(routes!(programs::get, programs::update))
        .routes(routes!(programs::clone))
        .routes(routes!(programs::assign))
        .routes(routes!(programs::assignments))
        .routes(routes!(programs::get_assignment))
        .routes(routes!(programs::end))
        .routes(routes!(programs::pause))
        .routes(routes!(programs::reschedule))
        .routes(routes!(programs::next))
        .routes(routes!(diets::create, diets::list))
        .routes(routes!(diets::get, diets::update))
        .routes(routes!(diets::assign))
        .routes(routes!(diets::assignments))
        .routes(routes!(diets::end))
        .routes(routes!(diets::log_food, diets::food_log))
        .routes(routes!(diets::delete_food))
        .with_state(state)
}
