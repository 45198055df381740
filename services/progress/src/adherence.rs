//! Adherence windows and streaks for a client; the ranked at-risk list for a trainer.

use axum::{extract::State, Json};
use chrono::{Duration, NaiveDate, Utc};
use fitsync_analytics::{risk, streaks, RiskInput};
use fitsync_platform::{
    auth::{Grants, Role},
    ApiError, ApiPath, AuthUser,
};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ProgressState;

/// The windows adherence is reported over, in days (TrueCoach shows the same).
pub const WINDOWS: [i64; 3] = [7, 30, 90];

/// Adherence over the `days` days before today (a day is judged once it is over).
#[derive(Debug, Serialize, ToSchema)]
pub struct Window {
    days: i64,
    planned: i64,
    completed: i64,
    /// completed ÷ planned, in percent (absent: nothing planned).
    workouts_percent: Option<f64>,
    /// Sessions resolved: attended, no-shows, late cancellations.
    sessions: i64,
    attended: i64,
    no_shows: i64,
    /// attended ÷ sessions, in percent (absent: no session).
    sessions_percent: Option<f64>,
    /// (completed + attended) ÷ (planned + sessions), in percent.
    percent: Option<f64>,
}

fn percent(done: i64, of: i64) -> Option<f64> {
    (of > 0).then(|| 100.0 * done as f64 / of as f64)
}

/// A client's adherence over the `days` days before `today`.
async fn window(
    conn: &mut PgConnection,
    client: Uuid,
    today: NaiveDate,
    days: i64,
) -> Result<Window, ApiError> {
    let r = sqlx::query!(
        r#"select coalesce(sum(planned), 0)::bigint as "planned!", coalesce(sum(completed), 0)::bigint as "completed!",
                  coalesce(sum(sessions), 0)::bigint as "sessions!", coalesce(sum(attended), 0)::bigint as "attended!",
                  coalesce(sum(no_shows), 0)::bigint as "no_shows!"
           from daily_adherence where client_id = $1 and day >= $2 and day < $3"#,
        client,
        today - Duration::days(days),
        today
    )
    .fetch_one(conn)
    .await?;
    Ok(Window {
        days,
        planned: r.planned,
        completed: r.completed,
        workouts_percent: percent(r.completed, r.planned),
        sessions: r.sessions,
        attended: r.attended,
        no_shows: r.no_shows,
        sessions_percent: percent(r.attended, r.sessions),
        percent: percent(r.completed + r.attended, r.planned + r.sessions),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StreakCounts {
    current_weeks: u32,
    longest_weeks: u32,
    current_days: u32,
    longest_days: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Adherence {
    client_id: Uuid,
    /// Today (UTC); the windows end the day before.
    as_of: NaiveDate,
    windows: Vec<Window>,
    /// Consecutive training days and ISO weeks (from the logged sets' local days).
    streaks: StreakCounts,
}

/// `GET /api/progress/{client_id}/adherence`: 7/30/90-day adherence and streaks.
#[utoipa::path(
    get, path = "/api/progress/{client_id}/adherence", tag = "progress",
    summary = "Adherence over 7, 30 and 90 days (planned workouts done, sessions attended) and streaks",
    params(("client_id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "Adherence", body = Adherence)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn adherence(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Adherence>, ApiError> {
    user.may_read_client(client_id, &Grants::new(&state.pool, &state.auth))
        .await?;
    let today = Utc::now().date_naive();
    let mut conn = state.pool.acquire().await?;
    let mut windows = Vec::with_capacity(WINDOWS.len());
    for days in WINDOWS {
        windows.push(window(&mut conn, client_id, today, days).await?);
    }
    let trained: Vec<NaiveDate> = sqlx::query_scalar!(
        "select day from daily_training where client_id = $1 and day <= $2",
        client_id,
        today
    )
    .fetch_all(&mut *conn)
    .await?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let as_days = |d: NaiveDate| i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX);
    let s = streaks(
        &trained.into_iter().map(as_days).collect::<Vec<_>>(),
        as_days(today),
    );
    Ok(Json(Adherence {
        client_id,
        as_of: today,
        windows,
        streaks: StreakCounts {
            current_weeks: s.current_weeks,
            longest_weeks: s.longest_weeks,
            current_days: s.current_days,
            longest_days: s.longest_days,
        },
    }))
}

/// One of a trainer's clients, with what puts them at risk.
#[derive(Debug, Serialize, ToSchema)]
pub struct AtRisk {
    client_id: Uuid,
    /// 0 (fine) to 100; the list is ranked by it (docs/analytics.md).
    score: f64,
    /// `low_adherence`, `adherence_drop`, `inactive`, `no_shows`, `workload_spike`.
    reasons: Vec<&'static str>,
    adherence_7_percent: Option<f64>,
    adherence_30_percent: Option<f64>,
    /// Days since their last training day (absent: never trained).
    days_since_training: Option<i64>,
    no_shows_30: i64,
    workload_flagged: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AtRiskList {
    trainer_id: Uuid,
    as_of: NaiveDate,
    /// The trainer's current clients, most at risk first.
    clients: Vec<AtRisk>,
}

/// `GET /api/analytics/trainers/{trainer_id}/at-risk`: the trainer's current clients,
/// ranked by risk (the trainer and admins).
#[utoipa::path(
    get, path = "/api/analytics/trainers/{trainer_id}/at-risk", tag = "analytics",
    summary = "A trainer's clients ranked by risk of dropping out (the trainer, admins)",
    params(("trainer_id" = Uuid, Path, description = "The trainer")),
    responses((status = 200, description = "Ranked clients", body = AtRiskList)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn at_risk(
    State(state): State<ProgressState>,
    user: AuthUser,
    ApiPath(trainer_id): ApiPath<Uuid>,
) -> Result<Json<AtRiskList>, ApiError> {
    if !(user.role() == Role::Admin || (user.role() == Role::Trainer && user.id() == trainer_id)) {
        return Err(ApiError::Forbidden);
    }
    let today = Utc::now().date_naive();
    let rows = sqlx::query!(
        r#"select client_id as "client_id!", days_since, no_shows_30 as "no_shows!", adherence_7, adherence_30
           from risk_inputs($1, $2)"#,
        trainer_id,
        today
    )
    .fetch_all(&state.pool)
    .await?;
    // Flagged workload in the last 7 days, computed on reading (charts::workload_of).
    let ids: Vec<Uuid> = rows.iter().map(|r| r.client_id).collect();
    let flagged: std::collections::HashSet<String> =
        crate::charts::workload_of(&state.pool, &ids, today - Duration::days(6), today)
            .await?
            .into_iter()
            .filter(|w| w.flagged)
            .map(|w| w.client_id)
            .collect();
    let mut clients: Vec<AtRisk> = rows
        .into_iter()
        .map(|r| {
            let workload_flagged = flagged.contains(&r.client_id.to_string());
            let input = RiskInput {
                adherence_30: r.adherence_30,
                adherence_7: r.adherence_7,
                days_since_training: r.days_since,
                no_shows_30: u32::try_from(r.no_shows).unwrap_or(u32::MAX),
                workload_flagged,
            };
            let (score, reasons) = risk(&input);
            AtRisk {
                client_id: r.client_id,
                score,
                reasons: reasons.into_iter().map(|w| w.as_str()).collect(),
                adherence_7_percent: r.adherence_7.map(|a| 100.0 * a),
                adherence_30_percent: r.adherence_30.map(|a| 100.0 * a),
                days_since_training: r.days_since,
                no_shows_30: r.no_shows,
                workload_flagged,
            }
        })
        .collect();
    clients.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.client_id.cmp(&b.client_id))
    });
    Ok(Json(AtRiskList {
        trainer_id,
        as_of: today,
        clients,
    }))
}
