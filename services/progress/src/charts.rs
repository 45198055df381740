//! A client's charts: any training metric as a time series over a range in day, week or
//! month buckets of their local days; personal records; sets per muscle group; workload.
//! Read by the client, their trainer and admins. The tables are the analytics job's
//! (`docs/analytics.md`).

use axum::{extract::State, Json};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use fitsync_platform::{auth::Grants, ApiError, ApiPath, ApiQuery, AuthUser};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ProgressState;

/// What a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Volume load, Σ weight × reps (kg), summed per bucket.
    Volume,
    /// Sets, summed per bucket.
    Sets,
    /// Hard sets, summed per bucket; with `muscle`, those of that primary muscle (week
    /// or month buckets).
    HardSets,
    /// The best e1RM of `exercise` in the bucket (kg).
    E1rm,
    /// Acute:chronic workload ratio: the highest of the bucket's days.
    WorkloadRatio,
    /// Nutrition adherence (percent): the mean of the bucket's scored days.
    NutritionAdherence,
    /// A body metric (`body_metric=`, e.g. `weight`, `waist`): the mean of the bucket's
    /// daily values, in the metric's unit.
    Body,
    /// The smoothed body weight (kg): the trend on the bucket's last weighed day.
    WeightTrend,
    /// Adherence (percent): planned workouts done and sessions attended over those
    /// planned and resolved in the bucket.
    Adherence,
}

impl Metric {
    fn unit(self) -> &'static str {
        match self {
            Metric::Volume | Metric::E1rm => "kg",
            Metric::Sets | Metric::HardSets => "sets",
            Metric::WorkloadRatio => "ratio",
            Metric::NutritionAdherence => "percent",
            Metric::Body => "",
            Metric::WeightTrend => "kg",
            Metric::Adherence => "percent",
        }
    }
}

/// The width of a series' buckets, in the client's local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
}

impl Bucket {
    /// The first day of the bucket `day` is in.
    fn start(self, day: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        match self {
            Bucket::Day => day,
            Bucket::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Bucket::Month => day.with_day(1).unwrap_or(day),
        }
    }

    pub fn as_sql(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }
}

/// The longest range a series covers.
const MAX_RANGE_DAYS: i64 = 3 * 366;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    metric: Metric,
    /// Default `week`.
    bucket: Option<Bucket>,
    /// First local day (default: 12 weeks before `to`).
    from: Option<NaiveDate>,
    /// Last local day, inclusive (default: today, UTC). At most three years after `from`.
    to: Option<NaiveDate>,
    /// The exercise's slug: required by `e1rm`, refused elsewhere.
    #[param(max_length = 64)]
    exercise: Option<String>,
    /// A primary muscle (`hard_sets`, `volume` and `sets` per muscle group; week or month
    /// buckets).
    #[param(max_length = 64)]
    muscle: Option<String>,
    /// A metric type's key (`GET /api/metrics/types`): required by `body`, refused
    /// elsewhere.
    #[param(max_length = 64)]
    body_metric: Option<String>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Point {
    /// The bucket's first day.
    start: NaiveDate,
    value: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    client_id: Uuid,
    metric: Metric,
    bucket: Bucket,
    from: NaiveDate,
    to: NaiveDate,
    unit: String,
    /// Buckets with data, oldest first (a bucket without any has no point).
    points: Vec<Point>,
}

/// `GET /api/progress/{client_id}/series`: one metric over a range, bucketed.
#[utoipa::path(
    get, path = "/api/progress/{client_id}/series", tag = "progress",
    summary = "A training metric as a time series in day, week or month buckets",
    params(("client_id" = Uuid, Path, description = "The client"), SeriesQuery),
    responses((status = 200, description = "The series", body = Series)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn series(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> Result<Json<Series>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let bucket = q.bucket.unwrap_or(Bucket::Week);
    for (field, value) in [
        ("exercise", &q.exercise),
        ("muscle", &q.muscle),
        ("body_metric", &q.body_metric),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 64) {
            return Err(ApiError::field(field, "at most 64 characters"));
        }
    }
    let (from, to) = range(q.from, q.to, Duration::weeks(12))?;
    match (q.metric, &q.exercise) {
        (Metric::E1rm, None) => {
            return Err(ApiError::field("exercise", "required by the e1rm metric"))
        }
        (Metric::E1rm, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(ApiError::field("exercise", "only for the e1rm metric")),
    }
    match (q.metric, &q.body_metric) {
        (Metric::Body, None) => {
            return Err(ApiError::field(
                "body_metric",
                "required by the body metric",
            ))
        }
        (Metric::Body, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(ApiError::field("body_metric", "only for the body metric")),
    }
    if q.muscle.is_some() {
        if !matches!(q.metric, Metric::Volume | Metric::Sets | Metric::HardSets) {
            return Err(ApiError::field(
                "muscle",
                "only for volume, sets and hard_sets",
            ));
        }
        if bucket == Bucket::Day {
            return Err(ApiError::field("bucket", "week or month with a muscle"));
        }
    }
    let b = bucket.as_sql();
    let pool = &state.pool;
    let mut unit = q.metric.unit().to_owned();
    let points = match (q.metric, q.muscle) {
        (Metric::Body, None) => {
            let key = q.body_metric.unwrap_or_default();
            unit = sqlx::query_scalar!("select unit from metric_types where key = $1", key)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| ApiError::field("body_metric", "a metric type's key"))?;
            sqlx::query_as!(
                    Point,
                    r#"select date_trunc($3, day)::date as "start!", avg(value) as "value!"
                       from daily_metrics where client_id = $1 and metric = $4 and day between $2 and $5
                       group by 1 order by 1"#,
                    client_id,
                    from,
                    b,
                    key,
                    to
                )
                .fetch_all(pool)
                .await?
        }
        (Metric::Adherence, None) => {
            sqlx::query_as!(
                Point,
                r#"select date_trunc($3, day)::date as "start!",
                          100.0 * sum(completed + attended)::float8 / sum(planned + sessions) as "value!"
                   from daily_adherence where client_id = $1 and day between $2 and $4
                   group by 1 having sum(planned + sessions) > 0 order by 1"#,
                client_id,
                from,
                b,
                to
            )
            .fetch_all(pool)
            .await?
        }
        (Metric::WeightTrend, None) => {
            sqlx::query_as!(
                Point,
                r#"select date_trunc($3, day)::date as "start!",
                              (array_agg(trend_kg order by day desc))[1] as "value!"
                       from weight_trend where client_id = $1 and day between $2 and $4
                       group by 1 order by 1"#,
                client_id,
                from,
                b,
                to
            )
            .fetch_all(pool)
            .await?
        }
        (metric, Some(muscle)) => {
            // Weeks belong to the bucket their Monday is in.
            let column = match metric {
                Metric::Volume => "volume",
                Metric::Sets => "sets",
                _ => "hard_sets",
            };
            sqlx::query_as!(
                Point,
                r#"select date_trunc($3, week_start)::date as "start!",
                          sum(case $5 when 'volume' then volume_kg::float8 when 'sets' then sets
                                      else hard_sets end)::float8 as "value!"
                   from muscle_weekly
                   where client_id = $1 and muscle = $4 and week_start between $2 and $6
                   group by 1 order by 1"#,
                client_id,
                from,
                b,
                muscle,
                column,
                to
            )
            .fetch_all(pool)
            .await?
        }
        (Metric::E1rm, None) => {
            sqlx::query_as!(
                Point,
                r#"select date_trunc($3, day)::date as "start!", max(e1rm_kg) as "value!"
                   from daily_e1rm where client_id = $1 and exercise = $4 and day between $2 and $5
                   group by 1 order by 1"#,
                client_id,
                from,
                b,
                q.exercise.unwrap_or_default(),
                to
            )
            .fetch_all(pool)
            .await?
        }
        (Metric::WorkloadRatio, None) => {
            // The bucket's highest ratio, from the days' workloads computed on reading.
            let mut best: std::collections::BTreeMap<NaiveDate, f64> = Default::default();
            for w in workload_of(pool, &[client_id], from, to).await? {
                let start = bucket.start(days_to_date(w.day));
                let b = best.entry(start).or_insert(w.ratio);
                *b = b.max(w.ratio);
            }
            best.into_iter()
                .map(|(start, value)| Point { start, value })
                .collect()
        }
        (Metric::NutritionAdherence, None) => {
            sqlx::query_as!(
                Point,
                r#"select date_trunc($3, date)::date as "start!", avg(adherence_percent) as "value!"
                   from daily_nutrition
                   where client_id = $1 and date between $2 and $4 and adherence_percent is not null
                   group by 1 order by 1"#,
                client_id,
                from,
                b,
                to
            )
            .fetch_all(pool)
            .await?
        }
        (metric @ (Metric::Volume | Metric::Sets | Metric::HardSets), None) => {
            let column = match metric {
                Metric::Volume => "volume",
                Metric::Sets => "sets",
                _ => "hard_sets",
            };
            sqlx::query_as!(
                Point,
                r#"select date_trunc($3, day)::date as "start!",
                          sum(case $4 when 'volume' then volume_kg::float8 when 'sets' then sets
                                      else hard_sets end)::float8 as "value!"
                   from daily_training where client_id = $1 and day between $2 and $5
                   group by 1 order by 1"#,
                client_id,
                from,
                b,
                column,
                to
            )
            .fetch_all(pool)
            .await?
        }
    };
    Ok(Json(Series {
        client_id,
        metric: q.metric,
        bucket,
        from,
        to,
        unit,
        points,
    }))
}

/// The heaviest set of an exercise for a number of reps.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct RepRecord {
    exercise: String,
    reps: i32,
    weight_kg: f64,
    set_id: Uuid,
    achieved_at: DateTime<Utc>,
    /// The client's local day of the set.
    day: NaiveDate,
}

/// The best e1RM of an exercise.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct E1rmRecord {
    exercise: String,
    e1rm_kg: f64,
    set_id: Uuid,
    achieved_at: DateTime<Utc>,
}

/// The session with the most volume load.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct SessionRecord {
    day: NaiveDate,
    /// The workout (absent: the sets logged on their own that day).
    workout_id: Option<Uuid>,
    volume_kg: f64,
    sets: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Records {
    client_id: Uuid,
    /// Best estimated one-rep max per exercise.
    e1rm: Vec<E1rmRecord>,
    /// Heaviest weight per exercise and rep count.
    by_reps: Vec<RepRecord>,
    /// Best session volume (absent: nothing logged).
    best_session: Option<SessionRecord>,
}

/// `GET /api/progress/{client_id}/records`: personal records and the sets that made them.
#[utoipa::path(
    get, path = "/api/progress/{client_id}/records", tag = "progress",
    summary = "Personal records: best e1RM, best weight per rep count, best session volume",
    params(("client_id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "Records", body = Records)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn records(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Records>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let pool = &state.pool;
    let e1rm = sqlx::query_as!(
        E1rmRecord,
        "select exercise, e1rm_kg, set_id, achieved_at from exercise_e1rm
         where client_id = $1 order by exercise",
        client_id
    )
    .fetch_all(pool)
    .await?;
    let by_reps = sqlx::query_as!(
        RepRecord,
        "select exercise, reps, weight_kg, set_id, achieved_at, day from rep_records
         where client_id = $1 order by exercise, reps",
        client_id
    )
    .fetch_all(pool)
    .await?;
    let best_session = sqlx::query_as!(
        SessionRecord,
        r#"select day, nullif(workout_id, '00000000-0000-0000-0000-000000000000') as workout_id,
                  volume_kg::float8 as "volume_kg!", sets
           from session_volume where client_id = $1
           order by volume_kg desc, day, workout_id limit 1"#,
        client_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(Json(Records {
        client_id,
        e1rm,
        by_reps,
        best_session,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WeeksQuery {
    /// Number of most recent weeks (default 12).
    #[param(minimum = 1, maximum = 260)]
    weeks: Option<i64>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct MuscleWeek {
    week_start: NaiveDate,
    muscle: String,
    sets: i32,
    hard_sets: i32,
    volume_kg: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Muscles {
    client_id: Uuid,
    /// Per local ISO week and primary muscle, oldest week first.
    weeks: Vec<MuscleWeek>,
}

/// `GET /api/progress/{client_id}/muscles?weeks=`: sets, hard sets and volume per muscle.
#[utoipa::path(
    get, path = "/api/progress/{client_id}/muscles", tag = "progress",
    summary = "Sets, hard sets and volume load per primary muscle group per week",
    params(("client_id" = Uuid, Path, description = "The client"), WeeksQuery),
    responses((status = 200, description = "Weeks", body = Muscles)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn muscles(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<WeeksQuery>,
) -> Result<Json<Muscles>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let weeks = q.weeks.unwrap_or(12);
    if !(1..=260).contains(&weeks) {
        return Err(ApiError::field("weeks", "must be between 1 and 260"));
    }
    let weeks = sqlx::query_as!(
        MuscleWeek,
        r#"select week_start, muscle, sets, hard_sets, volume_kg::float8 as "volume_kg!"
           from muscle_weekly
           where client_id = $1 and week_start in (
             select distinct week_start from muscle_weekly where client_id = $1
             order by week_start desc limit $2)
           order by week_start, muscle"#,
        client_id,
        weeks
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Muscles { client_id, weeks }))
}

/// The days `[from, to]` a query asks for: `to` defaults to today (UTC), `from` to
/// `default` before `to`; both within 2000–2100, in order, at most three years apart.
pub fn range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    default: Duration,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    for (field, value) in [("from", from), ("to", to)] {
        if value.is_some_and(|d| !in_range(d)) {
            return Err(ApiError::field(
                field,
                "a day from 2000-01-01 to 2100-12-31",
            ));
        }
    }
    let to = to.unwrap_or_else(|| Utc::now().date_naive());
    let from = from.unwrap_or(to - default + Duration::days(1));
    if from > to {
        return Err(ApiError::field("from", "must not be after to"));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::field("to", "at most three years after from"));
    }
    Ok((from, to))
}

/// A day the charts take (the date arithmetic around it cannot overflow).
fn in_range(day: NaiveDate) -> bool {
    let (first, last) = (
        NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date"),
        NaiveDate::from_ymd_opt(2100, 12, 31).expect("a date"),
    );
    (first..=last).contains(&day)
}

/// Days since the Unix epoch (the analytics frames' day column) as a date, and back.
fn days_to_date(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date") + Duration::days(i64::from(days))
}

fn date_to_days(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    i32::try_from((date - epoch).num_days()).unwrap_or(i32::MAX)
}

/// The workload of `clients` on every day from `from` to `to` that has some load in its
/// 28-day window, computed when read (`fitsync_analytics::workload`, off the runtime)
/// from their daily loads in `daily_training`: at most 55 rows a client.
pub(crate) async fn workload_of(
    pool: &sqlx::PgPool,
    clients: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<fitsync_analytics::Workload>, ApiError> {
    let window = i64::from(fitsync_analytics::CHRONIC_DAYS - 1);
    let loads: Vec<fitsync_analytics::DailyLoad> = sqlx::query!(
        r#"select client_id, day, volume_kg::float8 as "load!" from daily_training
           where client_id = any($1) and day between $2 and $3 order by client_id, day"#,
        clients,
        from - Duration::days(window),
        to
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| fitsync_analytics::DailyLoad {
        client_id: r.client_id.to_string(),
        day: date_to_days(r.day),
        load_kg: r.load,
    })
    .collect();
    let spans: Vec<(String, i32, i32)> = clients
        .iter()
        .map(|c| (c.to_string(), date_to_days(from), date_to_days(to)))
        .collect();
    tokio::task::spawn_blocking(move || fitsync_analytics::workload(&loads, &spans))
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))?
        .map_err(|e| ApiError::Unexpected(e.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DaysQuery {
    /// The days ending tomorrow (UTC: a client ahead of UTC may be in it) (default 28);
    /// those with no load in their 28-day window have no row.
    #[param(minimum = 1, maximum = 366)]
    days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkloadDay {
    day: NaiveDate,
    /// That day's volume load (kg).
    load_kg: f64,
    /// Mean daily load over the 7 days ending that day.
    acute_kg: f64,
    /// Mean daily load over the 28 days ending that day.
    chronic_kg: f64,
    ratio: f64,
    /// The ratio is above 1.5, with some load in the 21 days before the 7 (docs/analytics.md).
    flagged: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkloadResponse {
    client_id: Uuid,
    days: Vec<WorkloadDay>,
}

/// `GET /api/progress/{client_id}/workload?days=`: the acute:chronic workload ratio.
#[utoipa::path(
    get, path = "/api/progress/{client_id}/workload", tag = "progress",
    summary = "Acute:chronic workload ratio per day (above 1.5 flagged), oldest first",
    params(("client_id" = Uuid, Path, description = "The client"), DaysQuery),
    responses((status = 200, description = "Days", body = WorkloadResponse)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn workload(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DaysQuery>,
) -> Result<Json<WorkloadResponse>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let days = q.days.unwrap_or(28);
    if !(1..=366).contains(&days) {
        return Err(ApiError::field("days", "must be between 1 and 366"));
    }
    let to = Utc::now().date_naive() + Duration::days(1);
    let days = workload_of(&state.pool, &[client_id], to - Duration::days(days - 1), to)
        .await?
        .into_iter()
        .map(|w| WorkloadDay {
            day: days_to_date(w.day),
            load_kg: w.load_kg,
            acute_kg: w.acute_kg,
            chronic_kg: w.chronic_kg,
            ratio: w.ratio,
            flagged: w.flagged,
        })
        .collect();
    Ok(Json(WorkloadResponse { client_id, days }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlateauQuery {
    /// ISO weeks to fit, ending with the week of `to` (default 6).
    #[param(minimum = 3, maximum = 52)]
    weeks: Option<i64>,
    /// A day of the last week (default today, UTC).
    to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExercisePlateau {
    exercise: String,
    /// Weeks with a set of it (at least 3 to be judged).
    weeks: u32,
    /// Slope of the least-squares line through the weekly best e1RMs, kg per week.
    slope_kg_per_week: f64,
    /// No gain: the slope is 0 or below.
    plateau: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Plateaus {
    client_id: Uuid,
    /// The Monday of the first week fitted, and of the last.
    from: NaiveDate,
    to: NaiveDate,
    exercises: Vec<ExercisePlateau>,
}

/// `GET /api/progress/{client_id}/plateaus?weeks=&to=`: which exercises stopped gaining.
#[utoipa::path(
    get, path = "/api/progress/{client_id}/plateaus", tag = "progress",
    summary = "Exercises whose weekly best e1RM stopped rising (slope of a fit over N weeks ≤ 0)",
    params(("client_id" = Uuid, Path, description = "The client"), PlateauQuery),
    responses((status = 200, description = "Exercises", body = Plateaus)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn plateaus(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PlateauQuery>,
) -> Result<Json<Plateaus>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let weeks = q.weeks.unwrap_or(6);
    if !(3..=52).contains(&weeks) {
        return Err(ApiError::field("weeks", "must be between 3 and 52"));
    }
    if q.to.is_some_and(|d| !in_range(d)) {
        return Err(ApiError::field("to", "a day from 2000-01-01 to 2100-12-31"));
    }
    let to = Bucket::Week.start(q.to.unwrap_or_else(|| Utc::now().date_naive()));
    let from = to - Duration::weeks(weeks - 1);
    let rows: Vec<fitsync_analytics::WeekBest> = sqlx::query!(
        r#"select exercise, date_trunc('week', day)::date as "week!", max(e1rm_kg) as "best!"
           from daily_e1rm where client_id = $1 and day >= $2 and day < $3
           group by 1, 2"#,
        client_id,
        from,
        to + Duration::days(7)
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| fitsync_analytics::WeekBest {
        exercise: r.exercise,
        week_start: date_to_days(r.week),
        e1rm_kg: r.best,
    })
    .collect();
    let fitted = tokio::task::spawn_blocking(move || fitsync_analytics::plateaus(&rows))
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))?
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok(Json(Plateaus {
        client_id,
        from,
        to,
        exercises: fitted
            .into_iter()
            .map(|p| ExercisePlateau {
                exercise: p.exercise,
                weeks: p.weeks,
                slope_kg_per_week: p.slope_kg_per_week,
                plateau: p.plateau,
            })
            .collect(),
    }))
}
