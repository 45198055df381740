use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use fitsync_platform::{ApiError, ApiQuery, AuthUser, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::NotificationsState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Whose deliveries (default: the caller's; others' for admins only).
    user_id: Option<Uuid>,
}

/// One notification's delivery and its outcome.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Delivery {
    notification_id: Uuid,
    channel: String,
    template: String,
    status: String,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

/// `GET /api/notifications/deliveries?user_id=`: the caller's own; admins anyone's.
#[utoipa::path(
    get, path = "/api/notifications/deliveries", tag = "notifications",
    summary = "Deliveries to the caller (admins: to any user_id), newest first",
    params(DeliveriesQuery),
    responses((status = 200, description = "Deliveries", body = Vec<Delivery>)),
    security(("bearer" = []))
)]
pub async fn deliveries(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let target = q.user_id.unwrap_or(user.id());
    if target != user.id() && user.role() != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    let rows = sqlx::query_as!(
        Delivery,
        "select notification_id, channel, template, status, last_error, created_at, sent_at
         from deliveries where user_id = $1 order by created_at desc limit 100",
        target
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// One in-app notification.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct InboxItem {
    notification_id: Uuid,
    /// Today: `workout_comment`.
    kind: String,
    title: String,
    body: String,
    /// What it is about (the workout commented on).
    subject_id: Uuid,
    /// Who it is from.
    sender_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    delivered_at: DateTime<Utc>,
}

/// `GET /api/notifications/inbox`: the caller's in-app notifications.
#[utoipa::path(
    get, path = "/api/notifications/inbox", tag = "notifications",
    summary = "The caller's in-app notifications, newest first (at most 100)",
    responses((status = 200, description = "Notifications", body = Vec<InboxItem>)),
    security(("bearer" = []))
)]
pub async fn inbox(
    State(state): State<NotificationsState>,
    user: AuthUser,
) -> Result<Json<Vec<InboxItem>>, ApiError> {
    let rows = sqlx::query_as!(
        InboxItem,
        "select notification_id, kind, title, body, subject_id, sender_id, created_at, delivered_at
         from inbox where user_id = $1 order by created_at desc, notification_id desc limit 100",
        user.id()
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}
