use axum::{extract::State, Json};
use chrono::{DateTime, NaiveDate, Utc};
use fitsync_platform::{auth::Grants, ApiError, ApiPath, ApiQuery, AuthUser};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ProgressState;

/// The best estimated one-rep max of one exercise (Epley; Brzycki alongside).
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ExerciseE1rm {
    exercise: String,
    e1rm_kg: f64,
    e1rm_brzycki_kg: Option<f64>,
    set_id: Uuid,
    achieved_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct E1rmResponse {
    client_id: Uuid,
    exercises: Vec<ExerciseE1rm>,
}

/// `GET /api/progress/{client_id}/e1rm`: best estimated 1RM per exercise.
#[utoipa::path(
    get, path = "/api/progress/{client_id}/e1rm", tag = "progress",
    summary = "Best estimated one-rep max per exercise (Epley; Brzycki alongside)",
    params(("client_id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "Estimates", body = E1rmResponse)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn e1rm(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<E1rmResponse>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    e1rm_of(&state.pool, client_id).await.map(Json)
}

/// The e1RM read itself, without authorization (the benchmark's baseline uses it).
pub async fn e1rm_of(pool: &sqlx::PgPool, client_id: Uuid) -> Result<E1rmResponse, ApiError> {
    let exercises = sqlx::query_as!(
        ExerciseE1rm,
        "select exercise, e1rm_kg, e1rm_brzycki_kg, set_id, achieved_at, updated_at
         from exercise_e1rm where client_id = $1 order by exercise",
        client_id
    )
    .fetch_all(pool)
    .await?;
    Ok(E1rmResponse {
        client_id,
        exercises,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VolumeQuery {
    /// Number of most recent weeks (default 12).
    #[param(minimum = 1, maximum = 260)]
    weeks: Option<i64>,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct WeekVolume {
    week_start: NaiveDate,
    volume_kg: f64,
    sets: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VolumeResponse {
    client_id: Uuid,
    weeks: Vec<WeekVolume>,
}

/// `GET /api/progress/{client_id}/volume?weeks=`: weekly volume load, oldest first.
#[utoipa::path(
    get, path = "/api/progress/{client_id}/volume", tag = "progress",
    summary = "Weekly volume load (Σ weight × reps), oldest week first",
    params(("client_id" = Uuid, Path, description = "The client"), VolumeQuery),
    responses((status = 200, description = "Weeks", body = VolumeResponse)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn volume(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<VolumeQuery>,
) -> Result<Json<VolumeResponse>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let weeks = q.weeks.unwrap_or(12);
    if !(1..=260).contains(&weeks) {
        return Err(ApiError::field("weeks", "must be between 1 and 260"));
    }
    let weeks = sqlx::query_as!(
        WeekVolume,
        r#"select week_start, volume_kg::float8 as "volume_kg!", sets from (
             select week_start, volume_kg, sets from weekly_volume
             where client_id = $1 order by week_start desc limit $2
         ) recent order by week_start"#,
        client_id,
        weeks
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(VolumeResponse { client_id, weeks }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NutritionQuery {
    /// First day (default: 13 days before `to`).
    from: Option<NaiveDate>,
    /// Last day (default: today, UTC).
    to: Option<NaiveDate>,
}

/// Energy (kcal) and macronutrients (grams).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MacroTotals)]
pub struct Macros {
    kcal: f64,
    protein_g: f64,
    carbs_g: f64,
    fat_g: f64,
    fiber_g: f64,
}

/// One logged day: what was eaten, the diet's targets that day, and adherence.
#[derive(Debug, Serialize, ToSchema)]
pub struct NutritionDay {
    date: NaiveDate,
    eaten: Macros,
    entries: i32,
    /// Absent when no diet applied that day.
    targets: Option<Macros>,
    /// Mean over the targeted nutrients of 1 − |eaten − target| ÷ target, in percent.
    adherence_percent: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NutritionResponse {
    client_id: Uuid,
    /// Logged days, oldest first (a day without entries is absent; at most 1000).
    days: Vec<NutritionDay>,
}

/// `GET /api/progress/{client_id}/nutrition?from=&to=`
#[utoipa::path(
    get, path = "/api/progress/{client_id}/nutrition", tag = "progress",
    summary = "Daily intake against the diet's targets, and adherence, per logged day",
    params(("client_id" = Uuid, Path, description = "The client"), NutritionQuery),
    responses((status = 200, description = "Days", body = NutritionResponse)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn nutrition(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<NutritionQuery>,
) -> Result<Json<NutritionResponse>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let to = q.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = q
        .from
        .unwrap_or_else(|| to.checked_sub_days(chrono::Days::new(13)).unwrap_or(to));
    let rows = sqlx::query!(
        "select date, kcal, protein_g, carbs_g, fat_g, fiber_g, entries, target_kcal, target_protein_g,
                target_carbs_g, target_fat_g, target_fiber_g, adherence_percent
         from daily_nutrition where client_id = $1 and date between $2 and $3 order by date limit 1000",
        client_id,
        from,
        to
    )
    .fetch_all(&state.pool)
    .await?;
    let days = rows
        .into_iter()
        .map(|r| NutritionDay {
            date: r.date,
            eaten: Macros {
                kcal: r.kcal,
                protein_g: r.protein_g,
                carbs_g: r.carbs_g,
                fat_g: r.fat_g,
                fiber_g: r.fiber_g,
            },
            entries: r.entries,
            targets: match (
                r.target_kcal,
                r.target_protein_g,
                r.target_carbs_g,
                r.target_fat_g,
                r.target_fiber_g,
            ) {
                (Some(kcal), Some(protein_g), Some(carbs_g), Some(fat_g), Some(fiber_g)) => {
                    Some(Macros {
                        kcal,
                        protein_g,
                        carbs_g,
                        fat_g,
                        fiber_g,
                    })
                }
                _ => None,
            },
            adherence_percent: r.adherence_percent,
        })
        .collect();
    Ok(Json(NutritionResponse { client_id, days }))
}
