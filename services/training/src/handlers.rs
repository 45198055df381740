use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use fitsync_events::{
    CloudEvent, SetCorrected, SetDeleted, SetLogged, Topic, SET_CORRECTED_V2, SET_DELETED_V1,
    SET_LOGGED_V2,
};
use fitsync_platform::{
    auth::Grants, outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    domain::{ExerciseSlug, Kilograms, Reps, Rir, Unit},
    exercises::{self, Visible},
    TrainingState,
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
    /// The load in kilograms; or give `weight` (and `unit`) instead.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000)]
    weight_kg: Option<f64>,
    /// The load in `unit` (default: the client's unit, `/api/workouts/preferences`);
    /// at most 1000 kg or 2204.6 lb.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2204.6)]
    weight: Option<f64>,
    #[serde(default)]
    unit: Option<Unit>,
    /// Reps in reserve (0: taken to failure).
    #[serde(
        default,
        deserialize_with = "fitsync_platform::problem::integer::optional"
    )]
    #[schema(minimum = 0, maximum = 10)]
    rir: Option<i64>,
    /// Rating of perceived exertion (1 to 10 in half steps), instead of `rir`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10, multiple_of = 0.5)]
    rpe: Option<f64>,
    /// The set fell short of what was attempted (default false).
    #[serde(default)]
    failed: bool,
    /// The workout session it belongs to (one of the client's, `POST /api/workouts`); a
    /// correction without it keeps the set's session.
    #[serde(default)]
    workout_id: Option<Uuid>,
    /// When the set was done: defaults to now; from 2000-01-01 to five minutes ahead.
    #[serde(default)]
    performed_at: Option<DateTime<Utc>>,
}

/// A logged set, with its load in the reader's unit beside the stored kilograms.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkoutSet {
    id: Uuid,
    client_id: Uuid,
    exercise: String,
    reps: i32,
    weight_kg: f64,
    /// The load in `unit`, the reader's unit (kilograms to 0.01, pounds to 0.1).
    weight: f64,
    unit: Unit,
    /// The unit the client entered the load in.
    entered_unit: Unit,
    rir: Option<i32>,
    rpe: Option<f64>,
    failed: bool,
    workout_id: Option<Uuid>,
    performed_at: DateTime<Utc>,
    logged_at: DateTime<Utc>,
    /// 1 when logged; each correction adds one.
    revision: i32,
}

/// A set as stored.
pub(crate) struct SetRow {
    pub(crate) id: Uuid,
    pub(crate) client_id: Uuid,
    pub(crate) exercise: String,
    pub(crate) reps: i32,
    pub(crate) weight_kg: f64,
    pub(crate) rir: Option<i32>,
    pub(crate) rpe: Option<f64>,
    pub(crate) failed: bool,
    pub(crate) workout_id: Option<Uuid>,
    pub(crate) performed_at: DateTime<Utc>,
    pub(crate) logged_at: DateTime<Utc>,
    pub(crate) revision: i32,
    pub(crate) unit: String,
}

impl SetRow {
    /// The set as its event carries it, its day in the client's time zone `zone`.
    fn logged(&self, zone: chrono_tz::Tz) -> SetLogged {
        SetLogged {
            set_id: self.id,
            client_id: self.client_id,
            exercise: self.exercise.clone(),
            reps: self.reps,
            weight_kg: self.weight_kg,
            rir: self.rir,
            performed_at: self.performed_at,
            workout_id: self.workout_id,
            rpe: self.rpe,
            failed: self.failed,
            local_date: Some(self.performed_at.with_timezone(&zone).date_naive()),
        }
    }

    pub(crate) fn shown_in(self, unit: Unit) -> WorkoutSet {
        WorkoutSet {
            weight: unit.from_kg(self.weight_kg),
            unit,
            entered_unit: Unit::parse(&self.unit).unwrap_or_default(),
            id: self.id,
            client_id: self.client_id,
            exercise: self.exercise,
            reps: self.reps,
            weight_kg: self.weight_kg,
            rir: self.rir,
            rpe: self.rpe,
            failed: self.failed,
            workout_id: self.workout_id,
            performed_at: self.performed_at,
            logged_at: self.logged_at,
            revision: self.revision,
        }
    }
}

/// The unit `user` reads and enters loads in.
pub(crate) async fn unit_of(pool: &sqlx::PgPool, user: Uuid) -> Result<Unit, ApiError> {
    let unit = sqlx::query_scalar!("select unit from load_units where user_id = $1", user)
        .fetch_optional(pool)
        .await?;
    Ok(unit.and_then(|u| Unit::parse(&u)).unwrap_or_default())
}

struct ValidSet {
    exercise: ExerciseSlug,
    reps: Reps,
    weight: Kilograms,
    unit: Unit,
    rir: Option<Rir>,
    rpe: Option<f64>,
    failed: bool,
    workout_id: Option<Uuid>,
    performed_at: DateTime<Utc>,
}

impl LogSetRequest {
    /// The load in kilograms and the unit it was entered in: `weight_kg`, or `weight`
    /// in `unit` (default `preferred`), never both.
    fn load(&self, preferred: Unit) -> Result<(Kilograms, Unit), ApiError> {
        match (self.weight_kg, self.weight, self.unit) {
            (Some(kg), None, None | Some(Unit::Kg)) => Ok((Kilograms::parse(kg)?, Unit::Kg)),
            (None, Some(value), unit) => {
                let unit = unit.unwrap_or(preferred);
                let range = match unit {
                    Unit::Kg => "must be between 0 and 1000 kg",
                    Unit::Lb => "must be between 0 and 2204.6 lb",
                };
                let kg = Kilograms::parse(unit.to_kg(value))
                    .map_err(|_| ApiError::field("weight", range))?;
                Ok((kg, unit))
            }
            (Some(_), Some(_), _) => Err(ApiError::field(
                "weight",
                "give weight_kg, or weight with its unit, not both",
            )),
            (Some(_), None, Some(Unit::Lb)) => Err(ApiError::field(
                "unit",
                "weight_kg is in kilograms: give weight with unit lb instead",
            )),
            (None, None, _) => Err(ApiError::field(
                "weight_kg",
                "is required (or weight with its unit)",
            )),
        }
    }

    /// Every field is checked, and every failure reported at once.
    fn parse(self, now: DateTime<Utc>, preferred: Unit) -> Result<ValidSet, ApiError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let exercise = take(&mut errors, ExerciseSlug::parse(&self.exercise));
        let reps = take(&mut errors, Reps::parse(self.reps));
        let load = take(&mut errors, self.load(preferred));
        let rir = self.rir.map(|r| take(&mut errors, Rir::parse(r)));
        let rpe = match self.rpe {
            Some(_) if self.rir.is_some() => take(
                &mut errors,
                Err(ApiError::field("rpe", "give rir or rpe, not both")),
            ),
            Some(r) if !((1.0..=10.0).contains(&r) && (r * 2.0).fract() == 0.0) => take(
                &mut errors,
                Err(ApiError::field("rpe", "must be 1 to 10 in half steps")),
            ),
            other => Some(other),
        };
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
        match (exercise, reps, load, rir, when) {
            (
                Some(exercise),
                Some(reps),
                Some((weight, unit)),
                rir @ (None | Some(Some(_))),
                Some(performed_at),
            ) if errors.is_empty() => Ok(ValidSet {
                exercise,
                reps,
                weight,
                unit,
                rir: rir.flatten(),
                rpe: rpe.flatten(),
                failed: self.failed,
                workout_id: self.workout_id,
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
/// `set_logged` event are written by one statement.
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
    let mut conn = state.pool.acquire().await?;
    let (unit, zone, own) =
        profile_of(&mut conn, client_id, &req.exercise, &Visible::own(&user)).await?;
    let set = req.parse(Utc::now(), unit)?;
    let exercise = library_exercise(&state, &mut conn, &set.exercise, &user, own).await?;
    own_workout(&mut conn, set.workout_id, client_id).await?;
    // The set as it will be stored, for its event (which carries neither `logged_at`
    // nor `revision`).
    let pending = SetRow {
        id: Uuid::now_v7(),
        client_id,
        exercise,
        reps: set.reps.get(),
        weight_kg: set.weight.get(),
        rir: set.rir.map(Rir::get),
        rpe: set.rpe,
        failed: set.failed,
        workout_id: set.workout_id,
        // As PostgreSQL stores it (microseconds), so the event says what the row holds.
        performed_at: set.performed_at.trunc_subsecs(6),
        logged_at: Utc::now(),
        revision: 1,
        unit: set.unit.as_str().to_owned(),
    };
    let event = CloudEvent::new(
        SOURCE,
        SET_LOGGED_V2,
        client_id.to_string(),
        pending.logged(zone),
    );
    let payload = serde_json::to_value(&event)
        .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e).context("the set's event")))?;
    // The set, its event in the outbox and the relay's wake-up in one statement: as
    // atomic as a transaction, in one round trip instead of four (a data-modifying WITH
    // runs to completion, its RETURNING per row, whether or not the query reads it).
    let row = sqlx::query_as!(
        SetRow,
        "with added as (insert into outbox (topic, message_key, payload) values ($12, $13, $14)
                        returning pg_notify($15, ''))
         insert into workout_sets (id, client_id, exercise, reps, weight_kg, rir, rpe, failed, workout_id,
                                   performed_at, unit)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         returning id, client_id, exercise, reps, weight_kg, rir, rpe, failed, workout_id, performed_at,
                   logged_at, revision, unit",
        pending.id,
        client_id,
        pending.exercise,
        pending.reps,
        pending.weight_kg,
        pending.rir,
        pending.rpe,
        pending.failed,
        pending.workout_id,
        pending.performed_at,
        pending.unit,
        Topic::Training.suffix(),
        &event.subject,
        payload,
        outbox::CHANNEL
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((StatusCode::CREATED, Json(row.shown_in(unit))))
}

/// The client's load unit (as `unit_of`) and time zone, which their sets' days are
/// counted in: that of their newest program or diet assignment, UTC without one; and
/// the exercise `name` is among those `own` shows (as `exercises::resolve`). One
/// statement.
async fn profile_of(
    conn: &mut sqlx::PgConnection,
    client: Uuid,
    name: &str,
    own: &Visible,
) -> Result<(Unit, chrono_tz::Tz, Option<String>), ApiError> {
    let row = sqlx::query!(
        r#"select (select unit from load_units where user_id = $1) as unit,
                  (select time_zone from (
                     select time_zone, created_at from program_assignments where client_id = $1
                     union all
                     select time_zone, created_at from diet_assignments where client_id = $1
                   ) z order by created_at desc limit 1) as time_zone,
                  (select slug from exercises
                   where (slug = $2 or alias_slugs @> array[$2]::text[])
                     and (owner_id is null or $3::uuid[] is null or owner_id = any($3))
                   order by slug = $2 desc, owner_id is null desc, slug
                   limit 1) as exercise"#,
        client,
        name,
        own.owners() as Option<&[Uuid]>
    )
    .fetch_one(conn)
    .await?;
    let unit = row.unit.and_then(|u| Unit::parse(&u)).unwrap_or_default();
    let zone = row
        .time_zone
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    Ok((unit, zone, row.exercise))
}

/// A set may join only a workout of the client's own.
async fn own_workout(
    conn: &mut sqlx::PgConnection,
    workout: Option<Uuid>,
    client_id: Uuid,
) -> Result<(), ApiError> {
    let Some(workout) = workout else {
        return Ok(());
    };
    let owner = sqlx::query_scalar!("select client_id from workouts where id = $1", workout)
        .fetch_optional(conn)
        .await?;
    if owner == Some(client_id) {
        Ok(())
    } else {
        Err(ApiError::field(
            "workout_id",
            "no workout of yours: start one with POST /api/workouts",
        ))
    }
}

/// The slug of the library exercise `named` (a slug or an alias) the client may use, or
/// a 422 that says where to look.
async fn library_exercise(
    state: &TrainingState,
    conn: &mut sqlx::PgConnection,
    named: &ExerciseSlug,
    user: &AuthUser,
    own: Option<String>,
) -> Result<String, ApiError> {
    if let Some(slug) = own {
        return Ok(slug);
    }
    exercises::resolve_shared(state, conn, named.as_str(), user)
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
    let mut tx = state.pool.begin().await?;
    let (unit, zone, own) =
        profile_of(&mut tx, client_id, &req.exercise, &Visible::own(&user)).await?;
    let set = req.parse(Utc::now(), unit)?;
    let exercise = library_exercise(&state, &mut tx, &set.exercise, &user, own).await?;
    own_workout(&mut tx, set.workout_id, client_id).await?;
    let row = sqlx::query_as!(
        SetRow,
        "update workout_sets
         set exercise = $3, reps = $4, weight_kg = $5, rir = $6, rpe = $7, failed = $8, workout_id = coalesce($9, workout_id),
             performed_at = $10, unit = $11, revision = revision + 1
         where id = $1 and client_id = $2
         returning id, client_id, exercise, reps, weight_kg, rir, rpe, failed, workout_id, performed_at,
                   logged_at, revision, unit",
        id,
        client_id,
        exercise,
        set.reps.get(),
        set.weight.get(),
        set.rir.map(Rir::get),
        set.rpe,
        set.failed,
        set.workout_id,
        set.performed_at,
        set.unit.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let logged = row.logged(zone);
    let event = CloudEvent::new(
        SOURCE,
        SET_CORRECTED_V2,
        client_id.to_string(),
        SetCorrected {
            set_id: logged.set_id,
            client_id,
            exercise: logged.exercise,
            reps: logged.reps,
            weight_kg: logged.weight_kg,
            rir: logged.rir,
            performed_at: logged.performed_at,
            revision: row.revision,
            workout_id: logged.workout_id,
            rpe: logged.rpe,
            failed: logged.failed,
            local_date: logged.local_date,
        },
    );
    outbox::enqueue(&mut tx, Topic::Training, &event).await?;
    tx.commit().await?;
    Ok(Json(row.shown_in(unit)))
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
    let unit = unit_of(&state.pool, user.id()).await?;
    let rows = sqlx::query_as!(
        SetRow,
        "select id, client_id, exercise, reps, weight_kg, rir, rpe, failed, workout_id, performed_at,
                logged_at, revision, unit
         from workout_sets where client_id = $1 order by performed_at desc, id desc limit $2",
        client_id,
        limit
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows.into_iter().map(|r| r.shown_in(unit)).collect()))
}

/// The unit a user reads and enters loads in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    unit: Unit,
}

/// `GET /api/workouts/preferences`
#[utoipa::path(
    get, path = "/api/workouts/preferences", tag = "workouts",
    summary = "The caller's unit for loads (kilograms unless chosen)",
    responses((status = 200, description = "Preferences", body = Preferences)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn preferences(
    State(state): State<TrainingState>,
    user: AuthUser,
) -> Result<Json<Preferences>, ApiError> {
    Ok(Json(Preferences {
        unit: unit_of(&state.pool, user.id()).await?,
    }))
}

/// `PUT /api/workouts/preferences`
#[utoipa::path(
    put, path = "/api/workouts/preferences", tag = "workouts",
    summary = "Choose the unit loads are entered and shown in (kg or lb)",
    request_body = Preferences,
    responses((status = 200, description = "Saved", body = Preferences)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn set_preferences(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiJson(req): ApiJson<Preferences>,
) -> Result<Json<Preferences>, ApiError> {
    sqlx::query!(
        "insert into load_units (user_id, unit) values ($1, $2)
         on conflict (user_id) do update set unit = excluded.unit, updated_at = now()",
        user.id(),
        req.unit.as_str()
    )
    .execute(&state.pool)
    .await?;
    Ok(Json(req))
}
