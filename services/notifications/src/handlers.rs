use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use fitsync_platform::{ApiError, ApiQuery, AuthUser, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::NotificationsState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    user_id: Option<Uuid>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
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
pub async fn deliveries(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let target = q.user_id.unwrap_or(user.id());
    if target != user.id() && user.role() != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    let rows = sqlx::query_as::<_, Delivery>(
        "select notification_id, channel, template, status, last_error, created_at, sent_at
         from deliveries where user_id = $1 order by created_at desc limit 100",
    )
    .bind(target)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}
