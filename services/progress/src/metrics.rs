//! Body metrics (`/api/metrics/*`): metric types, measurements, goals and health
//! records. Measurements and goals go to `fitsync.progress` through the outbox; the
//! analytics job turns measurements into daily values and the weight trend.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, NaiveDate, Utc};
use fitsync_events::{
    CloudEvent, GoalChanged, HealthDataRead, MeasurementDeleted, MeasurementRecorded, Topic,
    GOAL_CHANGED_V1, HEALTH_DATA_READ_V1, MEASUREMENT_DELETED_V1, MEASUREMENT_RECORDED_V1,
};
use fitsync_platform::{
    auth::{Grants, Relationships, Role},
    outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ProgressState;

const SOURCE: &str = "/fitsync/progress";

/// The client themself or their current trainer: who records a client's measurements,
/// goals and health records.
async fn may_record(state: &ProgressState, user: &AuthUser, client: Uuid) -> Result<(), ApiError> {
    let allowed = match user.role() {
        Role::Client => user.id() == client,
        Role::Trainer => {
            Grants::new(&state.pool, &state.auth)
                .trains(user.id(), client)
                .await?
        }
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// A short text: trimmed, 1 to `max` characters, no control characters.
fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::field(
            field,
            format!("1 to {max} characters, no control characters"),
        ));
    }
    Ok(v.to_owned())
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct MetricType {
    /// `weight`, `body_fat`, `waist`, `hips`, `chest`, `arm`, `thigh`, `neck`,
    /// `resting_heart_rate`, or `custom-…`.
    key: String,
    name: String,
    unit: String,
    /// Who defined a custom metric (absent: built in).
    owner_id: Option<Uuid>,
}

/// `GET /api/metrics/types`: the built-in metrics and the caller's custom ones.
#[utoipa::path(
    get, path = "/api/metrics/types", tag = "metrics",
    summary = "Metric types: the built-in ones and the caller's custom ones",
    responses((status = 200, description = "Types", body = Vec<MetricType>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn types(
    State(state): State<ProgressState>,
    user: AuthUser,
) -> Result<Json<Vec<MetricType>>, ApiError> {
    let rows = sqlx::query_as!(
        MetricType,
        "select key, name, unit, owner_id from metric_types
         where owner_id is null or owner_id = $1 order by owner_id nulls first, name",
        user.id()
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMetricType {
    #[schema(min_length = 1, max_length = 80, example = "Grip strength")]
    name: String,
    #[schema(min_length = 1, max_length = 16, example = "kg")]
    unit: String,
}

/// `POST /api/metrics/types`: a custom metric (clients, trainers, gyms).
#[utoipa::path(
    post, path = "/api/metrics/types", tag = "metrics",
    summary = "Define a custom metric (clients, trainers and gyms)",
    request_body = NewMetricType,
    responses((status = 201, description = "Defined", body = MetricType)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn define_type(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiJson(req): ApiJson<NewMetricType>,
) -> Result<(StatusCode, Json<MetricType>), ApiError> {
    user.require(&[Role::Client, Role::Trainer, Role::Gym])?;
    let name = text("name", &req.name, 80)?;
    let unit = text("unit", &req.unit, 16)?;
    let key = format!("custom-{}", Uuid::now_v7().simple());
    let row = sqlx::query_as!(
        MetricType,
        "insert into metric_types (key, name, unit, owner_id) values ($1, $2, $3, $4)
         returning key, name, unit, owner_id",
        key,
        name,
        unit,
        user.id()
    )
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, Json(row)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeasurement {
    /// A metric type's key.
    #[schema(max_length = 64, example = "weight")]
    metric: String,
    /// In the metric's unit.
    #[schema(minimum = 0, maximum = 100000, example = 82.4)]
    value: f64,
    /// When it was taken (default now); not in the future.
    #[serde(default)]
    measured_at: Option<DateTime<Utc>>,
    /// The client's IANA time zone, which decides the local day (default UTC).
    #[serde(default)]
    #[schema(example = "Europe/Berlin")]
    time_zone: Option<String>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Measurement {
    id: Uuid,
    client_id: Uuid,
    metric: String,
    unit: String,
    value: f64,
    measured_at: DateTime<Utc>,
    local_date: NaiveDate,
    recorded_by: Uuid,
}

/// `POST /api/metrics/{client_id}/measurements`: record a measurement (the client or
/// their current trainer).
#[utoipa::path(
    post, path = "/api/metrics/{client_id}/measurements", tag = "metrics",
    summary = "Record a body measurement (the client or their trainer)",
    params(("client_id" = Uuid, Path, description = "The client")),
    request_body = NewMeasurement,
    responses((status = 201, description = "Recorded", body = Measurement)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn record(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewMeasurement>,
) -> Result<(StatusCode, Json<Measurement>), ApiError> {
    may_record(&state, &user, client_id).await?;
    if !req.value.is_finite() || !(0.0..=100_000.0).contains(&req.value) {
        return Err(ApiError::field("value", "0 to 100000"));
    }
    let now = Utc::now();
    let at = req.measured_at.unwrap_or(now);
    if at > now + chrono::Duration::minutes(5) || at.timestamp() < 946_684_800 {
        return Err(ApiError::field(
            "measured_at",
            "from 2000-01-01 to five minutes ahead",
        ));
    }
    let zone: chrono_tz::Tz = match &req.time_zone {
        None => chrono_tz::UTC,
        Some(z) => z
            .parse()
            .map_err(|_| ApiError::field("time_zone", "an IANA time zone such as Europe/Berlin"))?,
    };
    let local_date = at.with_timezone(&zone).date_naive();
    let mut tx = state.pool.begin().await?;
    let unit = sqlx::query_scalar!("select unit from metric_types where key = $1", req.metric)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::field("metric", "a metric type's key (GET /api/metrics/types)"))?;
    let row = sqlx::query_as!(
        Measurement,
        r#"insert into measurements (id, client_id, metric, value, measured_at, local_date, recorded_by)
           values ($1, $2, $3, $4, $5, $6, $7)
           returning id, client_id, metric, $8::text as "unit!", value, measured_at, local_date, recorded_by"#,
        Uuid::now_v7(),
        client_id,
        req.metric,
        req.value,
        at,
        local_date,
        user.id(),
        unit
    )
    .fetch_one(&mut *tx)
    .await?;
    let event = CloudEvent::new(
        SOURCE,
        MEASUREMENT_RECORDED_V1,
        client_id.to_string(),
        MeasurementRecorded {
            measurement_id: row.id,
            client_id,
            metric: row.metric.clone(),
            unit: row.unit.clone(),
            value: row.value,
            measured_at: row.measured_at,
            local_date: row.local_date,
            recorded_by: row.recorded_by,
        },
    );
    outbox::enqueue(&mut tx, Topic::Progress, &event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MeasurementsQuery {
    /// Only this metric.
    #[param(max_length = 64)]
    metric: Option<String>,
    /// First local day.
    from: Option<NaiveDate>,
    /// Last local day, inclusive.
    to: Option<NaiveDate>,
}

/// `GET /api/metrics/{client_id}/measurements`: measurements, oldest first (at most 1000).
#[utoipa::path(
    get, path = "/api/metrics/{client_id}/measurements", tag = "metrics",
    summary = "A client's measurements, oldest first",
    params(("client_id" = Uuid, Path, description = "The client"), MeasurementsQuery),
    responses((status = 200, description = "Measurements", body = Vec<Measurement>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn measurements(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<MeasurementsQuery>,
) -> Result<Json<Vec<Measurement>>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    if q.metric.as_ref().is_some_and(|m| m.chars().count() > 64) {
        return Err(ApiError::field("metric", "at most 64 characters"));
    }
    let rows = sqlx::query_as!(
        Measurement,
        "select m.id, m.client_id, m.metric, t.unit, m.value, m.measured_at, m.local_date, m.recorded_by
         from measurements m join metric_types t on t.key = m.metric
         where m.client_id = $1 and ($2::text is null or m.metric = $2)
           and ($3::date is null or m.local_date >= $3) and ($4::date is null or m.local_date <= $4)
         order by m.measured_at, m.id limit 1000",
        client_id,
        q.metric,
        q.from,
        q.to
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// `DELETE /api/metrics/measurements/{id}`: the client or their current trainer.
#[utoipa::path(
    delete, path = "/api/metrics/measurements/{id}", tag = "metrics",
    summary = "Delete a measurement (the client or their trainer)",
    params(("id" = Uuid, Path, description = "The measurement")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such measurement the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn delete_measurement(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let client_id = sqlx::query_scalar!("select client_id from measurements where id = $1", id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Someone who may not see the measurement learns nothing of it.
    hidden_unless_recorder(&state, &user, client_id).await?;
    let mut tx = state.pool.begin().await?;
    let deleted = sqlx::query!("delete from measurements where id = $1", id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    let event = CloudEvent::new(
        SOURCE,
        MEASUREMENT_DELETED_V1,
        client_id.to_string(),
        MeasurementDeleted {
            measurement_id: id,
            client_id,
            revision: 2,
        },
    );
    outbox::enqueue(&mut tx, Topic::Progress, &event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 404 for a caller who may not read the client's data at all, 403 for one who may read
/// but not record.
async fn hidden_unless_recorder(
    state: &ProgressState,
    user: &AuthUser,
    client: Uuid,
) -> Result<(), ApiError> {
    if user
        .may_read_client(client, &Grants::new(&state.pool, &state.auth))
        .await
        .is_err()
    {
        return Err(ApiError::NotFound);
    }
    may_record(state, user, client).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalKind {
    /// A body weight by a date.
    Weight,
    /// An estimated one-rep max on an exercise by a date.
    Lift,
}

impl GoalKind {
    fn as_str(self) -> &'static str {
        match self {
            GoalKind::Weight => "weight",
            GoalKind::Lift => "lift",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGoal {
    kind: GoalKind,
    /// The exercise's slug (lift goals only).
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    exercise: Option<String>,
    #[schema(exclusive_minimum = 0, maximum = 1000, example = 78.0)]
    target_kg: f64,
    /// The day to reach it by (today or later, within five years).
    by: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Goal {
    id: Uuid,
    client_id: Uuid,
    kind: GoalKind,
    exercise: Option<String>,
    target_kg: f64,
    by: NaiveDate,
    created_at: DateTime<Utc>,
    progress: GoalProgress,
}

/// Where a goal stands (from the analytics tables).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct GoalProgress {
    /// The weight trend now, or the best e1RM (absent: no data yet).
    current_kg: Option<f64>,
    /// Weight goals: the trend's change over the last 7 days (kg per week).
    weekly_rate_kg: Option<f64>,
    /// Weight goals: the weekly change that reaches the target by the date.
    required_weekly_rate_kg: Option<f64>,
    /// The target is reached.
    achieved: bool,
    /// Weight goals: moving towards the target at least as fast as required. Lift
    /// goals: achieved.
    on_track: bool,
}

/// `POST /api/metrics/{client_id}/goals`: a target weight or lift by a date.
#[utoipa::path(
    post, path = "/api/metrics/{client_id}/goals", tag = "metrics",
    summary = "Set a goal: a target body weight or e1RM by a date (the client or their trainer)",
    params(("client_id" = Uuid, Path, description = "The client")),
    request_body = NewGoal,
    responses((status = 201, description = "Set", body = Goal)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn set_goal(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewGoal>,
) -> Result<(StatusCode, Json<Goal>), ApiError> {
    may_record(&state, &user, client_id).await?;
    if !req.target_kg.is_finite() || req.target_kg <= 0.0 || req.target_kg > 1000.0 {
        return Err(ApiError::field("target_kg", "above 0, at most 1000"));
    }
    let today = Utc::now().date_naive();
    if req.by < today - chrono::Duration::days(1)
        || req.by > today + chrono::Duration::days(5 * 366)
    {
        return Err(ApiError::field("by", "today or later, within five years"));
    }
    let exercise = match (req.kind, &req.exercise) {
        (GoalKind::Lift, Some(e))
            if !e.is_empty()
                && e.len() <= 64
                && e.split('-').all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                }) =>
        {
            Some(e.clone())
        }
        (GoalKind::Lift, _) => {
            return Err(ApiError::field(
                "exercise",
                "an exercise's slug, for a lift goal",
            ))
        }
        (GoalKind::Weight, None) => None,
        (GoalKind::Weight, Some(_)) => {
            return Err(ApiError::field("exercise", "only for a lift goal"))
        }
    };
    let id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    if let Some(slug) = &exercise {
        // Sets are counted under the library's slug (`barbell-squat`, not the alias
        // `back-squat`): a goal names the same, or its e1RM would never be found.
        let known = sqlx::query_scalar!(
            r#"select exists (select 1 from exercise_catalog where slug = $1) as "known!""#,
            slug
        )
        .fetch_one(&mut *tx)
        .await?;
        if !known {
            return Err(ApiError::field(
                "exercise",
                "an exercise's slug in the library (GET /api/exercises), e.g. barbell-squat",
            ));
        }
    }
    let created_at = sqlx::query_scalar!(
        "insert into goals (id, client_id, kind, exercise, target_kg, by_date, created_by)
         values ($1, $2, $3, $4, $5, $6, $7) returning created_at",
        id,
        client_id,
        req.kind.as_str(),
        exercise,
        req.target_kg,
        req.by,
        user.id()
    )
    .fetch_one(&mut *tx)
    .await?;
    goal_event(
        &mut tx,
        id,
        client_id,
        req.kind,
        &exercise,
        req.target_kg,
        req.by,
        "active",
        1,
    )
    .await?;
    let progress = progress_of(
        &mut tx,
        client_id,
        req.kind,
        &exercise,
        req.target_kg,
        req.by,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Goal {
            id,
            client_id,
            kind: req.kind,
            exercise,
            target_kg: req.target_kg,
            by: req.by,
            created_at,
            progress,
        }),
    ))
}

#[allow(clippy::too_many_arguments)]
async fn goal_event(
    conn: &mut sqlx::PgConnection,
    goal_id: Uuid,
    client_id: Uuid,
    kind: GoalKind,
    exercise: &Option<String>,
    target_kg: f64,
    by: NaiveDate,
    status: &str,
    revision: i32,
) -> Result<(), ApiError> {
    let event = CloudEvent::new(
        SOURCE,
        GOAL_CHANGED_V1,
        client_id.to_string(),
        GoalChanged {
            goal_id,
            client_id,
            kind: kind.as_str().to_owned(),
            exercise: exercise.clone(),
            target_kg,
            by,
            status: status.to_owned(),
            revision,
        },
    );
    outbox::enqueue(conn, Topic::Progress, &event).await?;
    Ok(())
}

/// A goal's progress: the weight trend and its weekly rate, or the best e1RM.
async fn progress_of(
    conn: &mut sqlx::PgConnection,
    client: Uuid,
    kind: GoalKind,
    exercise: &Option<String>,
    target: f64,
    by: NaiveDate,
) -> Result<GoalProgress, ApiError> {
    match kind {
        GoalKind::Lift => {
            let best = sqlx::query_scalar!(
                "select e1rm_kg from exercise_e1rm where client_id = $1 and exercise = $2",
                client,
                exercise.clone().unwrap_or_default()
            )
            .fetch_optional(conn)
            .await?;
            let achieved = best.is_some_and(|b| b >= target);
            Ok(GoalProgress {
                current_kg: best,
                achieved,
                on_track: achieved,
                ..GoalProgress::default()
            })
        }
        GoalKind::Weight => {
            let trend = sqlx::query!(
                "select day, trend_kg from weight_trend where client_id = $1 order by day desc limit 1",
                client
            )
            .fetch_optional(&mut *conn)
            .await?;
            let Some(now) = trend else {
                return Ok(GoalProgress::default());
            };
            let before = sqlx::query_scalar!(
                "select trend_kg from weight_trend where client_id = $1 and day <= $2
                 order by day desc limit 1",
                client,
                now.day - chrono::Duration::days(7)
            )
            .fetch_optional(conn)
            .await?;
            let remaining = target - now.trend_kg;
            let weeks_left = ((by - now.day).num_days() as f64 / 7.0).max(1.0 / 7.0);
            let required = remaining / weeks_left;
            let rate = before.map(|b| now.trend_kg - b);
            let achieved = remaining.abs() < 0.05;
            Ok(GoalProgress {
                current_kg: Some(now.trend_kg),
                weekly_rate_kg: rate,
                required_weekly_rate_kg: Some(required),
                achieved,
                on_track: achieved
                    || rate.is_some_and(|r| r * remaining > 0.0 && r.abs() >= required.abs()),
            })
        }
    }
}

/// `GET /api/metrics/{client_id}/goals`: the client's goals with their progress.
#[utoipa::path(
    get, path = "/api/metrics/{client_id}/goals", tag = "metrics",
    summary = "A client's goals, with their progress",
    params(("client_id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "Goals", body = Vec<Goal>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn goals(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Vec<Goal>>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let mut conn = state.pool.acquire().await?;
    let rows = sqlx::query!(
        "select id, kind, exercise, target_kg, by_date, created_at from goals
         where client_id = $1 order by by_date, id",
        client_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind = if r.kind == "lift" {
            GoalKind::Lift
        } else {
            GoalKind::Weight
        };
        let progress = progress_of(
            &mut conn,
            client_id,
            kind,
            &r.exercise,
            r.target_kg,
            r.by_date,
        )
        .await?;
        out.push(Goal {
            id: r.id,
            client_id,
            kind,
            exercise: r.exercise,
            target_kg: r.target_kg,
            by: r.by_date,
            created_at: r.created_at,
            progress,
        });
    }
    Ok(Json(out))
}

/// `DELETE /api/metrics/goals/{id}`: the client or their current trainer.
#[utoipa::path(
    delete, path = "/api/metrics/goals/{id}", tag = "metrics",
    summary = "Delete a goal (the client or their trainer)",
    params(("id" = Uuid, Path, description = "The goal")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such goal the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn delete_goal(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let goal = sqlx::query!(
        "select client_id, kind, exercise, target_kg, by_date from goals where id = $1",
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    hidden_unless_recorder(&state, &user, goal.client_id).await?;
    let mut tx = state.pool.begin().await?;
    if sqlx::query!("delete from goals where id = $1", id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 0
    {
        return Err(ApiError::NotFound);
    }
    let kind = if goal.kind == "lift" {
        GoalKind::Lift
    } else {
        GoalKind::Weight
    };
    goal_event(
        &mut tx,
        id,
        goal.client_id,
        kind,
        &goal.exercise,
        goal.target_kg,
        goal.by_date,
        "deleted",
        2,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who may read a client's health records: the client, their current trainer, admins.
async fn may_read_health(
    state: &ProgressState,
    user: &AuthUser,
    client: Uuid,
) -> Result<(), ApiError> {
    let allowed = match user.role() {
        Role::Admin => true,
        _ if user.id() == client => true,
        Role::Trainer => {
            Grants::new(&state.pool, &state.auth)
                .trains(user.id(), client)
                .await?
        }
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
pub enum HealthKind {
    Injury,
    Condition,
    Other,
}

impl HealthKind {
    fn as_str(self) -> &'static str {
        match self {
            HealthKind::Injury => "injury",
            HealthKind::Condition => "condition",
            HealthKind::Other => "other",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHealthRecord {
    kind: HealthKind,
    #[schema(
        min_length = 1,
        max_length = 120,
        example = "Left knee: ACL reconstruction"
    )]
    title: String,
    #[schema(max_length = 4000)]
    details: Option<String>,
    started_on: Option<NaiveDate>,
    ended_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct HealthRecord {
    id: Uuid,
    client_id: Uuid,
    kind: String,
    title: String,
    details: Option<String>,
    started_on: Option<NaiveDate>,
    ended_on: Option<NaiveDate>,
    created_by: Uuid,
    created_at: DateTime<Utc>,
}

/// `POST /api/metrics/{client_id}/health-records`: an injury or condition (the client or
/// their current trainer). Its text is not published: health data stays in progressdb.
#[utoipa::path(
    post, path = "/api/metrics/{client_id}/health-records", tag = "metrics",
    summary = "Record an injury or condition (the client or their trainer)",
    params(("client_id" = Uuid, Path, description = "The client")),
    request_body = NewHealthRecord,
    responses((status = 201, description = "Recorded", body = HealthRecord)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn add_health_record(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewHealthRecord>,
) -> Result<(StatusCode, Json<HealthRecord>), ApiError> {
    may_record(&state, &user, client_id).await?;
    let title = text("title", &req.title, 120)?;
    let details = match &req.details {
        Some(d) if d.chars().count() > 4000 || d.contains('\0') => {
            return Err(ApiError::field("details", "at most 4000 characters"))
        }
        d => d.clone(),
    };
    if let (Some(s), Some(e)) = (req.started_on, req.ended_on) {
        if e < s {
            return Err(ApiError::field("ended_on", "not before started_on"));
        }
    }
    let row = sqlx::query_as!(
        HealthRecord,
        "insert into health_records (id, client_id, kind, title, details, started_on, ended_on, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         returning id, client_id, kind, title, details, started_on, ended_on, created_by, created_at",
        Uuid::now_v7(),
        client_id,
        req.kind.as_str(),
        title,
        details,
        req.started_on,
        req.ended_on,
        user.id()
    )
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `GET /api/metrics/{client_id}/health-records`: the client, their current trainer and
/// admins; a read by anyone but the client is audited.
#[utoipa::path(
    get, path = "/api/metrics/{client_id}/health-records", tag = "metrics",
    summary = "A client's health records (the client, their trainer, admins; reads audited)",
    params(("client_id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "Records", body = Vec<HealthRecord>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn health_records(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Vec<HealthRecord>>, ApiError> {
    may_read_health(&state, &user, client_id).await?;
    let mut tx = state.pool.begin().await?;
    let rows = sqlx::query_as!(
        HealthRecord,
        "select id, client_id, kind, title, details, started_on, ended_on, created_by, created_at
         from health_records where client_id = $1 order by created_at, id",
        client_id
    )
    .fetch_all(&mut *tx)
    .await?;
    if user.id() != client_id {
        // The audit record commits with the read, or neither happens.
        let event = CloudEvent::new(
            SOURCE,
            HEALTH_DATA_READ_V1,
            client_id.to_string(),
            HealthDataRead {
                client_id,
                reader_id: user.id(),
                reader_role: user.role().as_str().to_owned(),
                at: Utc::now(),
            },
        );
        outbox::enqueue(&mut tx, Topic::Progress, &event).await?;
    }
    tx.commit().await?;
    Ok(Json(rows))
}

/// `DELETE /api/metrics/health-records/{id}`: the client or their current trainer.
#[utoipa::path(
    delete, path = "/api/metrics/health-records/{id}", tag = "metrics",
    summary = "Delete a health record (the client or their trainer)",
    params(("id" = Uuid, Path, description = "The record")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such record the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn delete_health_record(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let client_id = sqlx::query_scalar!("select client_id from health_records where id = $1", id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(ApiError::NotFound)?;
    if may_read_health(&state, &user, client_id).await.is_err() {
        return Err(ApiError::NotFound);
    }
    may_record(&state, &user, client_id).await?;
    sqlx::query!("delete from health_records where id = $1", id)
        .execute(&state.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
