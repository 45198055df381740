//! A trainer's alert settings: per rule about their clients, on or off, its threshold
//! and its cooldown — for one client, or for all of them. The alerts job reads them
//! (`alert_settings`) for every candidate: the client's row, else the all-clients row,
//! else the rule's defaults.
//!
//! A trainer's settings only shape the alerts that trainer receives, so naming any client
//! reveals nothing about them; the rows are the caller's own, read and written by no one
//! else.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Utc};
use fitsync_platform::{ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::NotificationsState;

/// What "all clients" is stored as.
const ALL_CLIENTS: Uuid = Uuid::nil();

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Scope {
    /// One client (default: the trainer's setting for all clients).
    client_id: Option<Uuid>,
}

/// A rule's setting as the trainer wants it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAlertSetting {
    enabled: bool,
    /// `workload_spike`: the acute:chronic ratio it must exceed, from 1 to 5 (default
    /// 1.5); `weight_change`: the weekly change of the weight trend it must exceed, in
    /// percent of body weight either way, from 0.5 to 5 (default 1); `adherence_drop`: the
    /// 7-day adherence it must fall below, from 0.1 to 1 (default 0.7). The other rules
    /// have none.
    #[serde(default)]
    #[schema(minimum = 0.1, maximum = 5.0)]
    threshold: Option<f64>,
    /// At most one alert of the rule per client within this many minutes (0: none; at most
    /// 30 days).
    #[schema(minimum = 0, maximum = 43200)]
    cooldown_minutes: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertSetting {
    rule: String,
    /// None: for all the trainer's clients.
    client_id: Option<Uuid>,
    enabled: bool,
    threshold: Option<f64>,
    cooldown_minutes: i32,
    updated_at: DateTime<Utc>,
}

fn trainer_only(user: &AuthUser) -> Result<(), ApiError> {
    if user.role() == Role::Trainer {
        Ok(())
    } else {
        Err(ApiError::ForbiddenBecause("alert settings are a trainer's"))
    }
}

/// `GET /api/notifications/alert-settings`: the caller's.
#[utoipa::path(
    get, path = "/api/notifications/alert-settings", tag = "notifications",
    summary = "The calling trainer's alert settings (rules not listed use their defaults)",
    responses(
        (status = 200, description = "All clients' first, then per client", body = Vec<AlertSetting>),
        (status = 403, description = "Not a trainer", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<NotificationsState>,
    user: AuthUser,
) -> Result<Json<Vec<AlertSetting>>, ApiError> {
    trainer_only(&user)?;
    let rows = sqlx::query!(
        "select rule, client_id, enabled, threshold, cooldown_minutes, updated_at
         from alert_settings where trainer_id = $1
         order by client_id <> '00000000-0000-0000-0000-000000000000', client_id, rule",
        user.id()
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AlertSetting {
                rule: r.rule,
                client_id: (r.client_id != ALL_CLIENTS).then_some(r.client_id),
                enabled: r.enabled,
                threshold: r.threshold,
                cooldown_minutes: r.cooldown_minutes,
                updated_at: r.updated_at,
            })
            .collect(),
    ))
}

/// `PUT /api/notifications/alert-settings/{rule}`
#[utoipa::path(
    put, path = "/api/notifications/alert-settings/{rule}", tag = "notifications",
    summary = "Set how a rule alerts the calling trainer, for one client or all",
    params(("rule" = String, Path, description = "`personal_record`, `workload_spike`, `weight_change`, `no_show`, `missed_workout`, `adherence_drop`, `weekly_summary` or `plateau`"), Scope),
    request_body = NewAlertSetting,
    responses(
        (status = 200, description = "As stored", body = AlertSetting),
        (status = 403, description = "Not a trainer", body = fitsync_platform::Problem),
        (status = 404, description = "No such rule", body = fitsync_platform::Problem),
        (status = 422, description = "A threshold out of range or for a rule without one, a cooldown out of range", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn put(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiPath(rule): ApiPath<String>,
    ApiQuery(scope): ApiQuery<Scope>,
    ApiJson(body): ApiJson<NewAlertSetting>,
) -> Result<Json<AlertSetting>, ApiError> {
    trainer_only(&user)?;
    let (rule, range) = fitsync_events::TUNABLE_RULES
        .iter()
        .find(|(r, _)| *r == rule)
        .copied()
        .ok_or(ApiError::NotFound)?;
    let mut errors = Vec::new();
    match (body.threshold, range) {
        (Some(_), None) => errors.push(FieldError::new("threshold", "this rule has none")),
        (Some(t), Some((low, high))) if !(low..=high).contains(&t) => errors.push(FieldError::new(
            "threshold",
            format!("must be from {low} to {high}"),
        )),
        _ => {}
    }
    if !(0..=43_200).contains(&body.cooldown_minutes) {
        errors.push(FieldError::new(
            "cooldown_minutes",
            "must be from 0 to 43200 (30 days)",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let client = scope.client_id.unwrap_or(ALL_CLIENTS);
    let row = sqlx::query!(
        "insert into alert_settings (trainer_id, client_id, rule, enabled, threshold, cooldown_minutes)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (trainer_id, client_id, rule) do update
         set enabled = excluded.enabled, threshold = excluded.threshold,
             cooldown_minutes = excluded.cooldown_minutes, updated_at = now()
         returning updated_at",
        user.id(),
        client,
        rule,
        body.enabled,
        body.threshold,
        body.cooldown_minutes
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(AlertSetting {
        rule: rule.to_owned(),
        client_id: scope.client_id,
        enabled: body.enabled,
        threshold: body.threshold,
        cooldown_minutes: body.cooldown_minutes,
        updated_at: row.updated_at,
    }))
}

/// `DELETE /api/notifications/alert-settings/{rule}`: back to the defaults (for one
/// client: back to the trainer's setting for all).
#[utoipa::path(
    delete, path = "/api/notifications/alert-settings/{rule}", tag = "notifications",
    summary = "Forget the calling trainer's setting of a rule, for one client or all",
    params(("rule" = String, Path), Scope),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 403, description = "Not a trainer", body = fitsync_platform::Problem),
        (status = 404, description = "No such setting", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiPath(rule): ApiPath<String>,
    ApiQuery(scope): ApiQuery<Scope>,
) -> Result<StatusCode, ApiError> {
    trainer_only(&user)?;
    if !fitsync_events::TUNABLE_RULES
        .iter()
        .any(|(r, _)| *r == rule)
    {
        return Err(ApiError::NotFound);
    }
    let gone = sqlx::query!(
        "delete from alert_settings where trainer_id = $1 and client_id = $2 and rule = $3",
        user.id(),
        scope.client_id.unwrap_or(ALL_CLIENTS),
        rule
    )
    .execute(&state.pool)
    .await?
    .rows_affected();
    if gone == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
