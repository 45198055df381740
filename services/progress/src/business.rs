//! Trainer and gym analytics: a gym's KPIs (members, activity, sign-ups, bookings by
//! hour and weekday, no-shows, waitlist conversion, utilisation, retention cohorts,
//! revenue) and its metrics as series, read by its owner and admins; a trainer's KPIs,
//! read by the trainer, their gym's owner and admins. Computed when read by progressdb's
//! functions over the analytics job's facts (`docs/analytics.md`), as the dashboards are.

use axum::{extract::State, Json};
use chrono::{Duration, NaiveDate};
use fitsync_platform::{
    auth::{Grants, Relationships, Role},
    ApiError, ApiPath, ApiQuery, AuthUser,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    charts::{range, Bucket},
    ProgressState,
};

/// A gym's figures: its owner (a `gym` token naming it) and admins.
pub(crate) fn may_read_gym(user: &AuthUser, gym: Uuid) -> Result<(), ApiError> {
    match user.role() {
        Role::Admin => Ok(()),
        Role::Gym if user.claims().gym == Some(gym) => Ok(()),
        _ => Err(ApiError::Forbidden),
    }
}

/// A trainer's figures: the trainer, the owner of a gym they belong to, and admins.
pub(crate) async fn may_read_trainer(
    user: &AuthUser,
    trainer: Uuid,
    grants: &impl Relationships,
) -> Result<(), ApiError> {
    let allowed = match user.role() {
        Role::Admin => true,
        Role::Trainer => user.id() == trainer,
        Role::Gym => match user.claims().gym {
            Some(gym) => grants.in_gym(gym, trainer).await?,
            None => false,
        },
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First local day (default: 29 days before `to`).
    from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today, UTC). At most three years after `from`.
    to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct GymFigures {
    /// Clients who are members now.
    members: i64,
    /// Members active (a training day or an attended session) in the 7 and 30 days to `to`
    /// (or today, if that is earlier).
    active_7: i64,
    active_30: i64,
    /// Clients who first joined in the range (UTC days).
    signups: i64,
    /// Places taken on the gym's sessions in the range (booked, attended, no-show or
    /// cancelled late).
    bookings: i64,
    attended: i64,
    no_shows: i64,
    /// no-shows ÷ (attended + no-shows) (absent: none resolved).
    no_show_rate: Option<f64>,
    /// Bookings that queued on a waitlist, and those of them that got a place.
    waitlisted: i64,
    promoted: i64,
    /// promoted ÷ waitlisted (absent: nobody queued).
    waitlist_conversion: Option<f64>,
    /// The gym's trainers' minutes in sessions with a place taken, and their available
    /// minutes (their hours as they now stand).
    booked_minutes: i64,
    available_minutes: i64,
    /// booked ÷ available minutes.
    utilisation: Option<f64>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct HourCount {
    /// ISO weekday, 1 = Monday (the session's local time, its trainer's zone).
    weekday: i32,
    hour: i32,
    bookings: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Cohort {
    /// The month its clients first joined.
    cohort: NaiveDate,
    /// Months since (0 = the month they joined).
    month_offset: i32,
    members: i64,
    /// Of them, those active in that month.
    retained: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Revenue {
    month: NaiveDate,
    currency: String,
    purchases: i64,
    revenue_cents: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GymKpis {
    gym_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    figures: GymFigures,
    /// Places taken by local weekday and hour; hours without any are left out.
    bookings_by_hour: Vec<HourCount>,
    /// Monthly retention cohorts of the clients who first joined from the month `from`
    /// falls in to `to`.
    cohorts: Vec<Cohort>,
    /// Packages the gym sold, per month and currency.
    revenue: Vec<Revenue>,
}

/// `GET /api/analytics/gyms/{gym_id}/kpis`: a gym's KPIs over a range.
#[utoipa::path(
    get, path = "/api/analytics/gyms/{gym_id}/kpis", tag = "analytics",
    summary = "A gym's KPIs: members, activity, sign-ups, bookings by hour, no-shows, waitlist conversion, utilisation, cohorts, revenue",
    params(("gym_id" = Uuid, Path, description = "The gym"), RangeQuery),
    responses((status = 200, description = "KPIs", body = GymKpis)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn gym_kpis(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(gym_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<GymKpis>, ApiError> {
    may_read_gym(&user, gym_id)?;
    let (from, to) = range(q.from, q.to, Duration::days(30))?;
    let pool = &state.pool;
    let figures = sqlx::query_as("select * from gym_kpis($1, $2, $3)")
        .bind(gym_id)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
    let bookings_by_hour = sqlx::query_as("select * from gym_booking_hours($1, $2, $3)")
        .bind(gym_id)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
    let cohorts = sqlx::query_as("select * from gym_cohorts($1, $2, $3)")
        .bind(gym_id)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
    let revenue = sqlx::query_as("select * from package_revenue($1, $2, $3)")
        .bind(gym_id)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
    Ok(Json(GymKpis {
        gym_id,
        from,
        to,
        figures,
        bookings_by_hour,
        cohorts,
        revenue,
    }))
}

/// What a gym series counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GymMetric {
    /// Places taken on sessions starting in the bucket.
    Bookings,
    /// Sessions attended (or checked in).
    Attended,
    NoShows,
    /// Clients who first joined.
    Signups,
    /// Member clients active on a day: summed per bucket (client-days).
    ActiveMembers,
}

impl GymMetric {
    fn as_sql(self) -> &'static str {
        match self {
            GymMetric::Bookings => "bookings",
            GymMetric::Attended => "attended",
            GymMetric::NoShows => "no_shows",
            GymMetric::Signups => "signups",
            GymMetric::ActiveMembers => "active_members",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GymSeriesQuery {
    metric: GymMetric,
    /// Default `week`.
    bucket: Option<Bucket>,
    /// First local day (default: 12 weeks before `to`).
    from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today, UTC). At most three years after `from`.
    to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Count {
    /// The bucket's first day.
    start: NaiveDate,
    value: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GymSeries {
    gym_id: Uuid,
    metric: GymMetric,
    bucket: Bucket,
    from: NaiveDate,
    to: NaiveDate,
    /// Buckets with a count above zero, oldest first.
    points: Vec<Count>,
}

/// `GET /api/analytics/gyms/{gym_id}/series`: a gym metric over a range, bucketed.
#[utoipa::path(
    get, path = "/api/analytics/gyms/{gym_id}/series", tag = "analytics",
    summary = "A gym metric (bookings, attendance, no-shows, sign-ups, active members) in day, week or month buckets",
    params(("gym_id" = Uuid, Path, description = "The gym"), GymSeriesQuery),
    responses((status = 200, description = "The series", body = GymSeries)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn gym_series(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(gym_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<GymSeriesQuery>,
) -> Result<Json<GymSeries>, ApiError> {
    may_read_gym(&user, gym_id)?;
    let (from, to) = range(q.from, q.to, Duration::weeks(12))?;
    let bucket = q.bucket.unwrap_or(Bucket::Week);
    let points = sqlx::query_as(
        "select date_trunc($5, day)::date as start, sum(value)::bigint as value
         from gym_daily($1, $2, $3, $4) group by 1 order by 1",
    )
    .bind(gym_id)
    .bind(q.metric.as_sql())
    .bind(from)
    .bind(to)
    .bind(bucket.as_sql())
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(GymSeries {
        gym_id,
        metric: q.metric,
        bucket,
        from,
        to,
        points,
    }))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct TrainerFigures {
    /// Clients coached on `to`.
    clients: i64,
    /// Relationships started and ended in the range.
    new_clients: i64,
    ended_clients: i64,
    /// Current clients active (a training day or an attended session) in the range.
    active_clients: i64,
    /// Sessions over, not cancelled, with someone attending.
    sessions_delivered: i64,
    /// Minutes in sessions with a place taken, and available minutes (hours as they now
    /// stand).
    booked_minutes: i64,
    available_minutes: i64,
    utilisation: Option<f64>,
    /// The mean of current clients' adherence over the range (0 to 1; absent: nothing
    /// planned or booked).
    average_adherence: Option<f64>,
    /// Of the clients coached when the range began, the share still coached at its end.
    retention: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrainerKpis {
    trainer_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    figures: TrainerFigures,
    /// Packages the trainer sold, per month and currency.
    revenue: Vec<Revenue>,
}

/// `GET /api/analytics/trainers/{trainer_id}/kpis`: a trainer's KPIs over a range.
#[utoipa::path(
    get, path = "/api/analytics/trainers/{trainer_id}/kpis", tag = "analytics",
    summary = "A trainer's KPIs: clients, activity, sessions delivered, utilisation, adherence, retention, revenue",
    params(("trainer_id" = Uuid, Path, description = "The trainer"), RangeQuery),
    responses((status = 200, description = "KPIs", body = TrainerKpis)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn trainer_kpis(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(trainer_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<TrainerKpis>, ApiError> {
    may_read_trainer(&user, trainer_id, &Grants::new(&state.pool, &state.auth)).await?;
    let (from, to) = range(q.from, q.to, Duration::days(30))?;
    let figures = sqlx::query_as("select * from trainer_kpis($1, $2, $3)")
        .bind(trainer_id)
        .bind(from)
        .bind(to)
        .fetch_one(&state.pool)
        .await?;
    let revenue = sqlx::query_as("select * from package_revenue($1, $2, $3)")
        .bind(trainer_id)
        .bind(from)
        .bind(to)
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(TrainerKpis {
        trainer_id,
        from,
        to,
        figures,
        revenue,
    }))
}
