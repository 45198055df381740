use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Duration, Utc};
use fitsync_events::{
    CloudEvent, SetCorrected, SetDeleted, SetLogged, Topic, SET_CORRECTED_V1, SET_DELETED_V1,
    SET_LOGGED_V1,
};
use fitsync_platform::{
    auth::Grants, outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    domain::{ExerciseSlug, Kilograms, Reps, Rir},
    exercises, TrainingState,
};

pub const SOURCE: &str = "/fitsync/training";

/// One working set, as the client logs it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSetRequest {
    /// A library exercise, by its slug or an alias (`back-squat` is `barbell-squat`);
    /// the set records the exercise's slug.
    #[schema(
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length = 64,
        example = "back-squat"
    )]
    exercise: String,
    #[schema(minimum = 1, maximum = 100)]
    #[serde(deserialize_with = "fitsync_platform::problem::integer::required")]
    reps: i64,
    #[schema(minimum = 0, maximum = 1000)]
    weight_kg: f64,
    /// Reps in reserve (0: taken to failure).
    #[serde(
        default,
        deserialize_with = "fitsync_platform::problem::integer::optional"
    )]
    #[schema(minimum = 0, maximum = 10)]
    rir: Option<i64>,
    /// When the set was done: defaults to now; from 2000-01-01 to five minutes ahead.
    #[serde(default)]
    performed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct WorkoutSet {
    id: Uuid,
    client_id: Uuid,
    exercise: String,
    reps: i32,
    weight_kg: f64,
    rir: Option<i32>,
    performed_at: DateTime<Utc>,
    logged_at: DateTime<Utc>,
    /// 1 when logged; each correction adds one.
    revision: i32,
}

struct ValidSet {
    exercise: ExerciseSlug,
    reps: Reps,
    weight: Kilograms,
    rir: Option<Rir>,
    performed_at: DateTime<Utc>,
}

impl LogSetRequest {
    /// Every field is checked, and every failure reported at once.
    fn parse(self, now: DateTime<Utc>) -> Result<ValidSet, ApiError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let exercise = take(&mut errors, ExerciseSlug::parse(&self.exercise));
        let reps = take(&mut errors, Reps::parse(self.reps));
        let weight = take(&mut errors, Kilograms::parse(self.weight_kg));
        let rir = self.rir.map(|r| take(&mut errors, Rir::parse(r)));
        let performed_at = self.performed_at.unwrap_or(now);
        let when = if performed_at > now + Duration::minutes(5) {
            take(
                &mut errors,
                Err(ApiError::field("performed_at", "is in the future")),
            )
        } else if performed_at < DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or(now) {
            take(
                &mut errors,
                Err(ApiError::field("performed_at", "is before 2000")),
            )
        } else {
            Some(performed_at)
        };
        match (exercise, reps, weight, rir, when) {
            (
                Some(exercise),
                Some(reps),
                Some(weight),
                rir @ (None | Some(Some(_))),
                Some(performed_at),
            ) if errors.is_empty() => Ok(ValidSet {
                exercise,
                reps,
                weight,
                rir: rir.flatten(),
                performed_at,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// Keeps a parsed value, or adds its field errors to `errors`.
fn take<T>(errors: &mut Vec<FieldError>, parsed: Result<T, ApiError>) -> Option<T> {
    match parsed {
        Ok(v) => Some(v),
        Err(ApiError::Validation(e)) => {
            errors.extend(e);
            None
        }
        Err(_) => None,
    }
}

/// `POST /api/workouts/sets`: a client logs one set of their own. The set and its
/// `set_logged` event are written in one transaction.
#[utoipa::path(
    post, path = "/api/workouts/sets", tag = "workouts",
    summary = "Log one working set (clients, for themselves)",
    request_body = LogSetRequest,
    responses((status = 201, description = "Logged", body = WorkoutSet)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn log_set(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiJson(req): ApiJson<LogSetRequest>,
) -> Result<(StatusCode, Json<WorkoutSet>), ApiError> {
    let client_id = user.id();
    user.may_write_client(client_id)?;
    let set = req.parse(Utc::now())?;
    let id = Uuid::now_v7();

    let mut tx = state.pool.begin().await?;
    let exercise = library_exercise(&state, &mut tx, &set.exercise, &user).await?;
    let row = sqlx::query_as!(
        WorkoutSet,
        "insert into workout_sets (id, client_id, exercise, reps, weight_kg, rir, performed_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, client_id, exercise, reps, weight_kg, rir, performed_at, logged_at, revision",
        id,
        client_id,
        exercise,
        set.reps.get(),
        set.weight.get(),
        set.rir.map(Rir::get),
        set.performed_at
    )
    .fetch_one(&mut *tx)
    .await?;
    let event = CloudEvent::new(
        SOURCE,
        SET_LOGGED_V1,
        client_id.to_string(),
        SetLogged {
            set_id: row.id,
            client_id,
            exercise: row.exercise.clone(),
            reps: row.reps,
            weight_kg: row.weight_kg,
            rir: row.rir,
            performed_at: row.performed_at,
        },
    );
    outbox::enqueue(&mut tx, Topic::Training, &event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// The slug of the library exercise `named` (a slug or an alias) the client may use, or
/// a 422 that says where to look.
async fn library_exercise(
    state: &TrainingState,
    conn: &mut sqlx::PgConnection,
    named: &ExerciseSlug,
    user: &AuthUser,
) -> Result<String, ApiError> {
    exercises::resolve_for(state, conn, named.as_str(), user)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "exercise",
                format!(
                    "no exercise {:?} in the library: search /api/exercises?q=... for its slug",
                    named.as_str()
                ),
            )
        })
}

/// `PUT /api/workouts/sets/{id}`: the client corrects one of their sets (the whole set
/// as it should have been). Downstream results are recomputed as if it had always been so.
#[utoipa::path(
    put, path = "/api/workouts/sets/{id}", tag = "workouts",
    summary = "Correct a logged set (clients, their own)",
    params(("id" = Uuid, Path, description = "The set")),
    request_body = LogSetRequest,
    responses(
        (status = 200, description = "Corrected", body = WorkoutSet),
        (status = 404, description = "No such set of yours", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id(), set = %id), err(level = "debug"))]
pub async fn correct_set(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<LogSetRequest>,
) -> Result<Json<WorkoutSet>, ApiError> {
    let client_id = user.id();
    user.may_write_client(client_id)?;
    let set = req.parse(Utc::now())?;
    let mut tx = state.pool.begin().await?;
    let exercise = library_exercise(&state, &mut tx, &set.exercise, &user).await?;
    let row = sqlx::query_as!(
        WorkoutSet,
        "update workout_sets
         set exercise = $3, reps = $4, weight_kg = $5, rir = $6, performed_at = $7, revision = revision + 1
         where id = $1 and client_id = $2
         returning id, client_id, exercise, reps, weight_kg, rir, performed_at, logged_at, revision",
        id,
        client_id,
        exercise,
        set.reps.get(),
        set.weight.get(),
        set.rir.map(Rir::get),
        set.performed_at
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let event = CloudEvent::new(
        SOURCE,
        SET_CORRECTED_V1,
        client_id.to_string(),
        SetCorrected {
            set_id: row.id,
            client_id,
            exercise: row.exercise.clone(),
            reps: row.reps,
            weight_kg: row.weight_kg,
            rir: row.rir,
            performed_at: row.performed_at,
            revision: row.revision,
        },
    );
    outbox::enqueue(&mut tx, Topic::Training, &event).await?;
    tx.commit().await?;
    Ok(Json(row))
}

/// `DELETE /api/workouts/sets/{id}`: the client deletes one of their sets; downstream
/// results are recomputed without it.
#[utoipa::path(
    delete, path = "/api/workouts/sets/{id}", tag = "workouts",
    summary = "Delete a logged set (clients, their own)",
    params(("id" = Uuid, Path, description = "The set")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such set of yours", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id(), set = %id), err(level = "debug"))]
pub async fn delete_set(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let client_id = user.id();
    user.may_write_client(client_id)?;
    let mut tx = state.pool.begin().await?;
    let revision = sqlx::query_scalar!(
        "delete from workout_sets where id = $1 and client_id = $2 returning revision",
        id,
        client_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let event = CloudEvent::new(
        SOURCE,
        SET_DELETED_V1,
        client_id.to_string(),
        SetDeleted {
            set_id: id,
            client_id,
            revision: revision + 1,
        },
    );
    outbox::enqueue(&mut tx, Topic::Training, &event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Whose sets (default: the caller's).
    client_id: Option<Uuid>,
    /// How many, newest first (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// `GET /api/workouts/sets?client_id=&limit=`: newest first.
#[utoipa::path(
    get, path = "/api/workouts/sets", tag = "workouts",
    summary = "A client's logged sets, newest first",
    params(ListQuery),
    responses((status = 200, description = "Sets", body = Vec<WorkoutSet>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list_sets(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<WorkoutSet>>, ApiError> {
    let client_id = q.client_id.unwrap_or(user.id());
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 1000"));
    }
    let rows = sqlx::query_as!(
        WorkoutSet,
        "select id, client_id, exercise, reps, weight_kg, rir, performed_at, logged_at, revision
         from workout_sets where client_id = $1 order by performed_at desc, id desc limit $2",
        client_id,
        limit
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}
