use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Utc};
use fitsync_platform::{ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError, Role};
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
    pub(crate) notification_id: Uuid,
    /// The recipient's sequence number: 1, 2, 3, … in the order they arrived (the live
    /// stream's event id).
    pub(crate) seq: i64,
    /// The rule that fired: `personal_record`, `workload_spike`, `weight_change`,
    /// `plateau`, `weekly_summary`, `no_show`, `missed_workout`, `adherence_drop`,
    /// `booking_confirmed`, `booking_cancelled`, `booking_rescheduled`,
    /// `waitlist_promoted`, `session_reminder` or `workout_comment`.
    pub(crate) kind: String,
    pub(crate) title: String,
    pub(crate) body: String,
    /// What it is about: the client (records, workload), the booking, the workout.
    pub(crate) subject_id: Uuid,
    /// Who it is from (a comment's author).
    pub(crate) sender_id: Option<Uuid>,
    /// The alert's facts (exercise and kilograms, ratio, session time, …).
    #[schema(value_type = Object)]
    pub(crate) data: serde_json::Value,
    /// When what caused it happened.
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) delivered_at: DateTime<Utc>,
    pub(crate) read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only notifications numbered below this (the next page: the last `seq` seen).
    #[param(minimum = 0)]
    before: Option<i64>,
    /// Only unread ones.
    #[serde(default)]
    unread: bool,
    /// At most this many (1 to 100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// `GET /api/notifications/inbox`: the caller's in-app notifications.
#[utoipa::path(
    get, path = "/api/notifications/inbox", tag = "notifications",
    summary = "The caller's in-app notifications, newest first",
    params(InboxQuery),
    responses(
        (status = 200, description = "Notifications", body = Vec<InboxItem>),
        (status = 400, description = "A bad limit", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn inbox(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> Result<Json<Vec<InboxItem>>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 100".into()));
    }
    if q.before.is_some_and(|b| b < 0) {
        return Err(ApiError::BadRequest("before must be 0 or more".into()));
    }
    let rows = sqlx::query_as!(
        InboxItem,
        "select notification_id, seq, kind, title, body, subject_id, sender_id, data, created_at,
                delivered_at, read_at
         from inbox
         where user_id = $1 and seq < coalesce($2, 9223372036854775807) and (not $3 or read_at is null)
         order by seq desc limit $4",
        user.id(),
        q.before,
        q.unread,
        limit
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// How many notifications the caller has not read.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unread {
    unread: i64,
}

/// `GET /api/notifications/inbox/unread`
#[utoipa::path(
    get, path = "/api/notifications/inbox/unread", tag = "notifications",
    summary = "How many of the caller's notifications are unread",
    responses((status = 200, description = "The count", body = Unread)),
    security(("bearer" = []))
)]
pub async fn unread(
    State(state): State<NotificationsState>,
    user: AuthUser,
) -> Result<Json<Unread>, ApiError> {
    let unread = sqlx::query_scalar!(
        r#"select count(*) as "n!" from inbox where user_id = $1 and read_at is null"#,
        user.id()
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(Unread { unread }))
}

/// `POST /api/notifications/inbox/{notification_id}/read`: marks one of the caller's
/// notifications read (again: no change). Another user's is not found.
#[utoipa::path(
    post, path = "/api/notifications/inbox/{notification_id}/read", tag = "notifications",
    summary = "Mark one of the caller's notifications read",
    params(("notification_id" = Uuid, Path)),
    responses(
        (status = 204, description = "Read"),
        (status = 404, description = "Not the caller's", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn mark_read(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let found = sqlx::query!(
        "update inbox set read_at = coalesce(read_at, now())
         where notification_id = $1 and user_id = $2",
        id,
        user.id()
    )
    .execute(&state.pool)
    .await?
    .rows_affected();
    if found == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// How many notifications a call marked read.
#[derive(Debug, Serialize, ToSchema)]
pub struct Marked {
    marked: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadAll {
    /// Up to and including this sequence number (what the caller has seen); all if absent.
    #[schema(minimum = 0)]
    up_to: Option<i64>,
}

/// `POST /api/notifications/inbox/read`: marks the caller's notifications read.
#[utoipa::path(
    post, path = "/api/notifications/inbox/read", tag = "notifications",
    summary = "Mark the caller's notifications read, up to a sequence number",
    request_body = ReadAll,
    responses(
        (status = 200, description = "How many were marked", body = Marked),
        (status = 422, description = "A bad body", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn read_all(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiJson(body): ApiJson<ReadAll>,
) -> Result<Json<Marked>, ApiError> {
    if body.up_to.is_some_and(|n| n < 0) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "up_to",
            "must be 0 or more",
        )]));
    }
    let marked = sqlx::query!(
        "update inbox set read_at = now()
         where user_id = $1 and read_at is null and seq <= coalesce($2, 9223372036854775807)",
        user.id(),
        body.up_to
    )
    .execute(&state.pool)
    .await?
    .rows_affected();
    Ok(Json(Marked { marked }))
}
