//! Workout sessions (`/api/workouts`, `/api/workouts/{id}`): a client's sets grouped into
//! a session, linked to a planned workout (its sets shown beside the slots' targets) or
//! ad hoc; started, finished, notes, perceived effort; deleted with its sets. Trainers
//! comment on them (`/api/workouts/{id}/comments`); the comment is an event the
//! notifications service delivers to the client.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use fitsync_events::{
    CloudEvent, CommentAdded, SetDeleted, Topic, WorkoutChanged, COMMENT_ADDED_V1, SET_DELETED_V1,
    WORKOUT_CHANGED_V1,
};
use fitsync_platform::{
    auth::Grants, outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError,
};
use serde::{Deserialize, Serialize};
use sqlx::{types::Json as DbJson, PgConnection};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    handlers::{unit_of, SetRow, WorkoutSet, SOURCE},
    programs::{document::Slot, hidden_unless_readable, may_coach},
    TrainingState,
};

/// A workout session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Workout {
    id: Uuid,
    client_id: Uuid,
    /// The planned workout it carries out (absent: ad hoc).
    planned_workout_id: Option<Uuid>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    notes: Option<String>,
    /// How hard the whole session felt, 1 to 10.
    perceived_effort: Option<i32>,
    /// 1 when started; each change adds one.
    revision: i32,
}

/// Starting a session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartWorkout {
    /// One of the client's planned workouts (`/api/programs/assignments/{id}`); absent: ad hoc.
    #[serde(default)]
    planned_workout_id: Option<Uuid>,
    /// Default: now.
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    notes: Option<String>,
}

/// A session as it should stand (the whole of it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkout {
    started_at: DateTime<Utc>,
    /// Set when the session is over.
    #[serde(default)]
    finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    notes: Option<String>,
    #[serde(
        default,
        deserialize_with = "fitsync_platform::problem::integer::optional"
    )]
    #[schema(minimum = 1, maximum = 10)]
    perceived_effort: Option<i64>,
}

/// Checks the times and texts of a session; every failure at once.
fn check(
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    notes: Option<&str>,
    effort: Option<i64>,
) -> Result<Option<i32>, ApiError> {
    let now = Utc::now();
    let mut errors = Vec::new();
    let too_early = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or(now);
    if started_at > now + Duration::minutes(5) || started_at < too_early {
        errors.push(FieldError::new("started_at", "from 2000 to now"));
    }
    if finished_at.is_some_and(|f| f < started_at || f > now + Duration::minutes(5)) {
        errors.push(FieldError::new(
            "finished_at",
            "after started_at and not in the future",
        ));
    }
    if notes.is_some_and(|n| n.chars().count() > 2000 || n.contains('\0')) {
        errors.push(FieldError::new("notes", "at most 2000 characters"));
    }
    let effort = match effort {
        None => None,
        Some(e) if (1..=10).contains(&e) => i32::try_from(e).ok(),
        Some(_) => {
            errors.push(FieldError::new("perceived_effort", "1 to 10"));
            None
        }
    };
    if errors.is_empty() {
        Ok(effort)
    } else {
        Err(ApiError::Validation(errors))
    }
}

async fn changed_event(
    conn: &mut PgConnection,
    w: &Workout,
    deleted: bool,
) -> Result<(), ApiError> {
    let status = match (deleted, w.finished_at) {
        (true, _) => "deleted",
        (false, Some(_)) => "finished",
        (false, None) => "open",
    };
    let event = CloudEvent::new(
        SOURCE,
        WORKOUT_CHANGED_V1,
        w.client_id.to_string(),
        WorkoutChanged {
            workout_id: w.id,
            client_id: w.client_id,
            planned_workout_id: w.planned_workout_id,
            started_at: w.started_at,
            finished_at: w.finished_at,
            perceived_effort: w.perceived_effort,
            notes: w.notes.clone(),
            status: status.to_owned(),
            revision: w.revision,
        },
    );
    outbox::enqueue(conn, Topic::Training, &event).await?;
    Ok(())
}

/// `POST /api/workouts`: a client starts a session, of a planned workout or ad hoc.
#[utoipa::path(
    post, path = "/api/workouts", tag = "workouts",
    summary = "Start a workout session (clients, for themselves)",
    request_body = StartWorkout,
    responses((status = 201, description = "Started", body = Workout), (status = 409, description = "The planned workout already has a session", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn start(
    State(state): State<TrainingState>,
    user: AuthUser,
    // An object: every field is optional, and serde would take `[]` for one.
    ApiJson(body): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> Result<(StatusCode, Json<Workout>), ApiError> {
    let client_id = user.id();
    user.may_write_client(client_id)?;
    let req = StartWorkout::deserialize(serde_json::Value::Object(body))
        .map_err(|e| ApiError::Validation(vec![FieldError::new("body", e.to_string())]))?;
    let started_at = req.started_at.unwrap_or_else(Utc::now);
    check(started_at, None, req.notes.as_deref(), None)?;
    let mut tx = state.pool.begin().await?;
    if let Some(planned) = req.planned_workout_id {
        let owner = sqlx::query_scalar!(
            "select client_id from planned_workouts where id = $1",
            planned
        )
        .fetch_optional(&mut *tx)
        .await?;
        if owner != Some(client_id) {
            return Err(ApiError::field(
                "planned_workout_id",
                "no planned workout of yours",
            ));
        }
        let taken = sqlx::query_scalar!(
            "select id from workouts where planned_workout_id = $1",
            planned
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(taken) = taken {
            return Err(ApiError::Conflict(format!(
                "the planned workout already has a session: {taken}"
            )));
        }
    }
    let w = sqlx::query_as!(
        Workout,
        "insert into workouts (id, client_id, planned_workout_id, started_at, notes)
         values ($1, $2, $3, $4, $5)
         returning id, client_id, planned_workout_id, started_at, finished_at, notes, perceived_effort, revision",
        Uuid::now_v7(),
        client_id,
        req.planned_workout_id,
        started_at,
        req.notes
    )
    .fetch_one(&mut *tx)
    .await?;
    changed_event(&mut tx, &w, false).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(w)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkoutsQuery {
    /// Whose sessions (default: the caller's).
    client_id: Option<Uuid>,
}

/// `GET /api/workouts?client_id=`
#[utoipa::path(
    get, path = "/api/workouts", tag = "workouts",
    summary = "A client's workout sessions, newest first (at most 200)",
    params(WorkoutsQuery),
    responses((status = 200, description = "Sessions", body = Vec<Workout>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<WorkoutsQuery>,
) -> Result<Json<Vec<Workout>>, ApiError> {
    let client = q.client_id.unwrap_or(user.id());
    user.may_read_client(client, &Grants::new(&state.pool, &state.auth))
        .await?;
    let rows = sqlx::query_as!(
        Workout,
        "select id, client_id, planned_workout_id, started_at, finished_at, notes, perceived_effort, revision
         from workouts where client_id = $1 order by started_at desc, id desc limit 200",
        client
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// A session of a client the caller may read; 404 for others, so ids reveal nothing.
async fn readable(state: &TrainingState, user: &AuthUser, id: Uuid) -> Result<Workout, ApiError> {
    let w = sqlx::query_as!(
        Workout,
        "select id, client_id, planned_workout_id, started_at, finished_at, notes, perceived_effort, revision
         from workouts where id = $1",
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    hidden_unless_readable(state, user, w.client_id).await?;
    Ok(w)
}

/// The planned workout a session carries out.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedRef {
    id: Uuid,
    date: NaiveDate,
    week: i32,
    day: i32,
    name: String,
}

/// A slot's target, and the session's sets of its exercise beside it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotDone {
    target: Slot,
    sets: Vec<WorkoutSet>,
}

/// Feedback on a workout.
#[derive(Debug, Serialize, ToSchema)]
pub struct Comment {
    id: Uuid,
    workout_id: Uuid,
    author_id: Uuid,
    body: String,
    created_at: DateTime<Utc>,
}

/// A session with its sets (beside the planned targets), and the feedback on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkoutDetail {
    workout: Workout,
    planned: Option<PlannedRef>,
    /// The planned slots in order, each with the sets of its exercise (empty: ad hoc).
    slots: Vec<SlotDone>,
    /// Sets no planned slot prescribes (all of them, ad hoc).
    other_sets: Vec<WorkoutSet>,
    comments: Vec<Comment>,
}

/// `GET /api/workouts/{id}`
#[utoipa::path(
    get, path = "/api/workouts/{id}", tag = "workouts",
    summary = "A workout session: its sets beside the planned targets, and the feedback on it",
    params(("id" = Uuid, Path, description = "The session")),
    responses((status = 200, description = "The session", body = WorkoutDetail), (status = 404, description = "No such session the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn get(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<WorkoutDetail>, ApiError> {
    let workout = readable(&state, &user, id).await?;
    let unit = unit_of(&state.pool, user.id()).await?;
    let mut conn = state.pool.acquire().await?;
    let planned = match workout.planned_workout_id {
        Some(p) => sqlx::query!(
            r#"select id, date, week, day, name, slots as "slots: DbJson<Vec<Slot>>"
               from planned_workouts where id = $1"#,
            p
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| {
            (
                PlannedRef {
                    id: r.id,
                    date: r.date,
                    week: r.week,
                    day: r.day,
                    name: r.name,
                },
                r.slots.0,
            )
        }),
        None => None,
    };
    let sets = sqlx::query_as!(
        SetRow,
        "select id, client_id, exercise, reps, weight_kg, rir, rpe, failed, workout_id, performed_at,
                logged_at, revision, unit
         from workout_sets where workout_id = $1 order by performed_at, id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let (planned, targets) = planned.map_or((None, Vec::new()), |(p, s)| (Some(p), s));
    let mut slots: Vec<SlotDone> = targets
        .into_iter()
        .map(|target| SlotDone {
            target,
            sets: Vec::new(),
        })
        .collect();
    let mut other_sets = Vec::new();
    for set in sets {
        // The first slot of the set's exercise takes it.
        match slots.iter_mut().find(|s| s.target.exercise == set.exercise) {
            Some(slot) => slot.sets.push(set.shown_in(unit)),
            None => other_sets.push(set.shown_in(unit)),
        }
    }
    let comments = sqlx::query_as!(
        Comment,
        "select id, workout_id, author_id, body, created_at from workout_comments
         where workout_id = $1 order by created_at, id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Json(WorkoutDetail {
        workout,
        planned,
        slots,
        other_sets,
        comments,
    }))
}

/// `PUT /api/workouts/{id}`: the client edits their session (finishes it, adds notes and
/// perceived effort).
#[utoipa::path(
    put, path = "/api/workouts/{id}", tag = "workouts",
    summary = "Edit or finish a workout session (clients, their own)",
    params(("id" = Uuid, Path, description = "The session")),
    request_body = UpdateWorkout,
    responses((status = 200, description = "Saved", body = Workout), (status = 404, description = "No such session of yours", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn update(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UpdateWorkout>,
) -> Result<Json<Workout>, ApiError> {
    let client_id = user.id();
    user.may_write_client(client_id)?;
    let effort = check(
        req.started_at,
        req.finished_at,
        req.notes.as_deref(),
        req.perceived_effort,
    )?;
    let mut tx = state.pool.begin().await?;
    let w = sqlx::query_as!(
        Workout,
        "update workouts
         set started_at = $3, finished_at = $4, notes = $5, perceived_effort = $6, revision = revision + 1
         where id = $1 and client_id = $2
         returning id, client_id, planned_workout_id, started_at, finished_at, notes, perceived_effort, revision",
        id,
        client_id,
        req.started_at,
        req.finished_at,
        req.notes,
        effort
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    changed_event(&mut tx, &w, false).await?;
    tx.commit().await?;
    Ok(Json(w))
}

/// `DELETE /api/workouts/{id}`: the session and its sets (each a `set_deleted`); the
/// analytics recompute without them.
#[utoipa::path(
    delete, path = "/api/workouts/{id}", tag = "workouts",
    summary = "Delete a workout session and its sets (clients, their own)",
    params(("id" = Uuid, Path, description = "The session")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such session of yours", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn delete(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let client_id = user.id();
    user.may_write_client(client_id)?;
    let mut tx = state.pool.begin().await?;
    let mut w = sqlx::query_as!(
        Workout,
        "select id, client_id, planned_workout_id, started_at, finished_at, notes, perceived_effort, revision
         from workouts where id = $1 and client_id = $2 for update",
        id,
        client_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let sets = sqlx::query!(
        "delete from workout_sets where workout_id = $1 returning id, revision",
        id
    )
    .fetch_all(&mut *tx)
    .await?;
    for set in sets {
        let event = CloudEvent::new(
            SOURCE,
            SET_DELETED_V1,
            client_id.to_string(),
            SetDeleted {
                set_id: set.id,
                client_id,
                revision: set.revision + 1,
            },
        );
        outbox::enqueue(&mut tx, Topic::Training, &event).await?;
    }
    sqlx::query!("delete from workouts where id = $1", id)
        .execute(&mut *tx)
        .await?;
    w.revision += 1;
    changed_event(&mut tx, &w, true).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A trainer's feedback.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "Great depth on the squats!"
    )]
    body: String,
}

/// `POST /api/workouts/{id}/comments`: the client's trainer (or gym) comments; the client
/// is notified (the notifications service's inbox).
#[utoipa::path(
    post, path = "/api/workouts/{id}/comments", tag = "workouts",
    summary = "Comment on a client's workout (their trainer or gym)",
    params(("id" = Uuid, Path, description = "The session")),
    request_body = CommentRequest,
    responses((status = 201, description = "Commented", body = Comment), (status = 404, description = "No such session the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn comment(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CommentRequest>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    let w = readable(&state, &user, id).await?;
    may_coach(&state, &user, w.client_id).await?;
    let body = req.body.trim();
    if body.is_empty() || body.chars().count() > 2000 || body.contains('\0') {
        return Err(ApiError::field("body", "1 to 2000 characters"));
    }
    let mut tx = state.pool.begin().await?;
    let c = sqlx::query_as!(
        Comment,
        "insert into workout_comments (id, workout_id, client_id, author_id, body)
         values ($1, $2, $3, $4, $5)
         returning id, workout_id, author_id, body, created_at",
        Uuid::now_v7(),
        id,
        w.client_id,
        user.id(),
        body
    )
    .fetch_one(&mut *tx)
    .await?;
    let event = CloudEvent::new(
        SOURCE,
        COMMENT_ADDED_V1,
        w.client_id.to_string(),
        CommentAdded {
            comment_id: c.id,
            workout_id: id,
            client_id: w.client_id,
            author_id: c.author_id,
            body: c.body.clone(),
            created_at: c.created_at,
        },
    );
    outbox::enqueue(&mut tx, Topic::Training, &event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(c)))
}
