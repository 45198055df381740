//! What each user wants delivered where, when not to be disturbed, and what became of
//! their alerts on the external channels.

use axum::{extract::State, Json};
use chrono::{DateTime, NaiveTime, Utc};
use fitsync_platform::{ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::NotificationsState;

/// The categories alerts fall in (`personal_record` and `workload_spike` are progress,
/// `no_show` attendance, booking changes and waitlist promotions bookings, comments on a
/// workout feedback).
const CATEGORIES: [&str; 4] = ["progress", "attendance", "bookings", "feedback"];

/// Per category: whether its alerts are also emailed (default: yes, once the address is
/// verified). The in-app inbox always gets them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChoices {
    progress: bool,
    attendance: bool,
    bookings: bool,
    feedback: bool,
}

/// A daily window, in the user's time zone, when external channels wait (deliveries
/// falling inside it go out when it ends; none is dropped). It may span midnight.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// An IANA time zone, e.g. `Europe/Berlin`.
    #[schema(example = "Europe/Berlin", pattern = "^[A-Za-z0-9_+/-]{1,64}$")]
    time_zone: String,
    /// Local start, `HH:MM`.
    #[schema(example = "22:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    starts: String,
    /// Local end, `HH:MM` (different from the start).
    #[schema(example = "07:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    ends: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    email: EmailChoices,
    /// None: any time.
    quiet_hours: Option<QuietHours>,
}

fn hhmm(raw: &str) -> Option<NaiveTime> {
    (raw.len() == 5)
        .then(|| NaiveTime::parse_from_str(raw, "%H:%M").ok())
        .flatten()
}

/// `GET /api/notifications/preferences`: the caller's.
#[utoipa::path(
    get, path = "/api/notifications/preferences", tag = "notifications",
    summary = "The caller's delivery preferences and quiet hours",
    responses((status = 200, description = "Preferences (defaults where never set)", body = NotificationPreferences)),
    security(("bearer" = []))
)]
pub async fn get_preferences(
    State(state): State<NotificationsState>,
    user: AuthUser,
) -> Result<Json<NotificationPreferences>, ApiError> {
    read(&state, user.id()).await.map(Json)
}

async fn read(state: &NotificationsState, user: Uuid) -> Result<NotificationPreferences, ApiError> {
    let off: Vec<String> = sqlx::query_scalar!(
        "select category from channel_preferences where user_id = $1 and channel = 'email' and not enabled",
        user
    )
    .fetch_all(&state.pool)
    .await?;
    let on = |c: &str| !off.iter().any(|o| o == c);
    let quiet = sqlx::query!(
        "select time_zone, starts, ends from quiet_hours where user_id = $1",
        user
    )
    .fetch_optional(&state.pool)
    .await?;
    Ok(NotificationPreferences {
        email: EmailChoices {
            progress: on("progress"),
            attendance: on("attendance"),
            bookings: on("bookings"),
            feedback: on("feedback"),
        },
        quiet_hours: quiet.map(|q| QuietHours {
            time_zone: q.time_zone,
            starts: q.starts.format("%H:%M").to_string(),
            ends: q.ends.format("%H:%M").to_string(),
        }),
    })
}

/// `PUT /api/notifications/preferences`: replaces the caller's.
#[utoipa::path(
    put, path = "/api/notifications/preferences", tag = "notifications",
    summary = "Set the caller's delivery preferences and quiet hours",
    request_body = NotificationPreferences,
    responses(
        (status = 200, description = "As stored", body = NotificationPreferences),
        (status = 422, description = "An unknown time zone, a bad time, an empty window", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn put_preferences(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NotificationPreferences>,
) -> Result<Json<NotificationPreferences>, ApiError> {
    let mut errors = Vec::new();
    let mut window = None;
    if let Some(q) = &body.quiet_hours {
        // The zone must be one PostgreSQL knows: it computes when a window ends. (Only a
        // name that could be one is asked about: text with a NUL cannot even be sent.)
        let plausible = (1..=64).contains(&q.time_zone.len())
            && q.time_zone
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+-/".contains(&b));
        let known = plausible
            && sqlx::query_scalar!(
                r#"select exists(select 1 from pg_timezone_names where name = $1) as "known!""#,
                &q.time_zone
            )
            .fetch_one(&state.pool)
            .await?;
        if !known {
            errors.push(FieldError::new(
                "quiet_hours.time_zone",
                "is not a known time zone",
            ));
        }
        let (starts, ends) = (hhmm(&q.starts), hhmm(&q.ends));
        if starts.is_none() {
            errors.push(FieldError::new("quiet_hours.starts", "must be HH:MM"));
        }
        if ends.is_none() {
            errors.push(FieldError::new("quiet_hours.ends", "must be HH:MM"));
        }
        if let (Some(s), Some(e)) = (starts, ends) {
            if s == e {
                errors.push(FieldError::new(
                    "quiet_hours.ends",
                    "must differ from the start",
                ));
            }
            window = Some((q.time_zone.clone(), s, e));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let e = &body.email;
    let enabled = [e.progress, e.attendance, e.bookings, e.feedback];
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "insert into channel_preferences (user_id, category, channel, enabled)
         select $1, c, 'email', e from unnest($2::text[], $3::bool[]) as t(c, e)
         on conflict (user_id, category, channel) do update set enabled = excluded.enabled",
        user.id(),
        &CATEGORIES.map(str::to_owned),
        &enabled
    )
    .execute(&mut *tx)
    .await?;
    match window {
        Some((zone, starts, ends)) => {
            sqlx::query!(
                "insert into quiet_hours (user_id, time_zone, starts, ends) values ($1, $2, $3, $4)
                 on conflict (user_id) do update set time_zone = excluded.time_zone,
                     starts = excluded.starts, ends = excluded.ends",
                user.id(),
                zone,
                starts,
                ends
            )
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query!("delete from quiet_hours where user_id = $1", user.id())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    read(&state, user.id()).await.map(Json)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertDeliveriesQuery {
    /// Whose (default: the caller's; others' for admins only).
    user_id: Option<Uuid>,
    /// Only those in this state.
    status: Option<DeliveryStatus>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Sent,
    Dead,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Dead => "dead",
        }
    }
}

/// One alert on one external channel, and what became of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDelivery {
    id: Uuid,
    /// The in-app notification it carries.
    notification_id: Uuid,
    user_id: Uuid,
    channel: String,
    /// `pending` (waiting for `due_at`: a retry, or the end of quiet hours), `sending`,
    /// `sent` or `dead` (out of attempts or refused for good; an admin may replay it).
    status: String,
    attempts: i32,
    due_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

/// `GET /api/notifications/alert-deliveries`: the caller's (admins: anyone's).
#[utoipa::path(
    get, path = "/api/notifications/alert-deliveries", tag = "notifications",
    summary = "Alerts on external channels and their outcome, newest first (admins: any user_id)",
    params(AlertDeliveriesQuery),
    responses(
        (status = 200, description = "At most 100", body = Vec<AlertDelivery>),
        (status = 403, description = "Another user's, not as an admin", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn alert_deliveries(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<AlertDeliveriesQuery>,
) -> Result<Json<Vec<AlertDelivery>>, ApiError> {
    let target = q.user_id.unwrap_or(user.id());
    if target != user.id() && user.role() != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    let rows = sqlx::query_as!(
        AlertDelivery,
        "select id, notification_id, user_id, channel, status, attempts, due_at, last_error,
                created_at, sent_at
         from alert_deliveries
         where user_id = $1 and ($2::text is null or status = $2)
         order by created_at desc, id desc limit 100",
        target,
        q.status.map(DeliveryStatus::as_str)
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// `POST /api/notifications/alert-deliveries/{id}/replay`: an admin sends a dead
/// delivery again (attempts start over).
#[utoipa::path(
    post, path = "/api/notifications/alert-deliveries/{id}/replay", tag = "notifications",
    summary = "Send a dead delivery again (admins)",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Queued again", body = AlertDelivery),
        (status = 403, description = "Not an admin", body = fitsync_platform::Problem),
        (status = 404, description = "No such delivery", body = fitsync_platform::Problem),
        (status = 409, description = "Not dead", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
pub async fn replay(
    State(state): State<NotificationsState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AlertDelivery>, ApiError> {
    if user.role() != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    let row = sqlx::query_as!(
        AlertDelivery,
        "update alert_deliveries set status = 'pending', attempts = 0, due_at = now(), claimed_at = null
         where id = $1 and status = 'dead'
         returning id, notification_id, user_id, channel, status, attempts, due_at, last_error,
                   created_at, sent_at",
        id
    )
    .fetch_optional(&state.pool)
    .await?;
    match row {
        Some(r) => {
            sqlx::query!(
                "select pg_notify('fitsync_inbox', $1)",
                r.user_id.to_string()
            )
            .execute(&state.pool)
            .await?;
            Ok(Json(r))
        }
        None => {
            let exists = sqlx::query_scalar!(
                r#"select exists(select 1 from alert_deliveries where id = $1) as "e!""#,
                id
            )
            .fetch_one(&state.pool)
            .await?;
            Err(if exists {
                ApiError::Conflict("only a dead delivery is replayed".into())
            } else {
                ApiError::NotFound
            })
        }
    }
}
