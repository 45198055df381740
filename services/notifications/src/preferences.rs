//! What each user wants delivered where, when not to be disturbed, and what became of
//! their alerts on the external channels.

use axum::{extract::State, Json};
use chrono::{DateTime, NaiveTime, Utc};
use fitsync_platform::{ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::NotificationsState;

/// The categories alerts fall in (records, workload spikes, weight changes, plateaus and
/// weekly summaries are progress; no-shows, missed workouts and adherence drops
/// attendance; booking changes and waitlist promotions bookings; comments on a workout
/// feedback; session reminders reminders).
const CATEGORIES: [&str; 5] = [
    "progress",
    "attendance",
    "bookings",
    "feedback",
    "reminders",
];

/// The external channels, and whether a category is on there until the user says
/// otherwise: email and push yes (push once a browser subscribed), SMS no (texts are
/// opt-in). The in-app inbox always gets every alert.
const CHANNELS: [(&str, bool); 3] = [("email", true), ("sms", false), ("push", true)];

/// Per category: whether its alerts go out on one channel.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelChoices {
    progress: bool,
    attendance: bool,
    bookings: bool,
    feedback: bool,
    reminders: bool,
}

impl ChannelChoices {
    fn all(on: impl Fn(&str) -> bool) -> Self {
        Self {
            progress: on("progress"),
            attendance: on("attendance"),
            bookings: on("bookings"),
            feedback: on("feedback"),
            reminders: on("reminders"),
        }
    }

    /// In `CATEGORIES` order.
    fn enabled(&self) -> [bool; 5] {
        [
            self.progress,
            self.attendance,
            self.bookings,
            self.feedback,
            self.reminders,
        ]
    }
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

/// How the caller reads times and weights in their alerts, on every channel.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Locale {
    /// An IANA time zone, e.g. `America/New_York` (default `UTC`).
    #[schema(example = "America/New_York", pattern = "^[A-Za-z0-9_+/-]{1,64}$")]
    time_zone: String,
    units: Units,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    /// Kilograms (the default).
    Metric,
    /// Pounds.
    Imperial,
}

impl Default for Locale {
    fn default() -> Self {
        Self {
            time_zone: "UTC".into(),
            units: Units::Metric,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// Absent in a `PUT`: UTC and kilograms.
    #[serde(default)]
    locale: Locale,
    /// To the verified address.
    email: ChannelChoices,
    /// To the verified number (`PUT /api/notifications/phone`).
    sms: ChannelChoices,
    /// To every subscribed browser (`POST /api/notifications/push/subscriptions`).
    push: ChannelChoices,
    /// None: any time.
    quiet_hours: Option<QuietHours>,
}

/// Whether `zone` is one both PostgreSQL (it computes when quiet hours end) and the
/// alerts job (it writes local times) know. Only a name that could be one is asked about:
/// text with a NUL cannot even be sent.
async fn known_zone(state: &NotificationsState, zone: &str) -> Result<bool, ApiError> {
    let plausible = (1..=64).contains(&zone.len())
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-/".contains(&b))
        && zone.parse::<chrono_tz::Tz>().is_ok();
    Ok(plausible
        && sqlx::query_scalar!(
            r#"select exists(select 1 from pg_timezone_names where name = $1) as "known!""#,
            zone
        )
        .fetch_one(&state.pool)
        .await?)
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
    let chosen = sqlx::query!(
        "select channel, category, enabled from channel_preferences where user_id = $1",
        user
    )
    .fetch_all(&state.pool)
    .await?;
    let choices = |channel: &str| {
        let default = CHANNELS
            .iter()
            .find(|(c, _)| *c == channel)
            .is_some_and(|(_, on)| *on);
        ChannelChoices::all(|category| {
            chosen
                .iter()
                .find(|r| r.channel == channel && r.category == category)
                .map_or(default, |r| r.enabled)
        })
    };
    let quiet = sqlx::query!(
        "select time_zone, starts, ends from quiet_hours where user_id = $1",
        user
    )
    .fetch_optional(&state.pool)
    .await?;
    let locale = sqlx::query!(
        "select time_zone, units from locale_preferences where user_id = $1",
        user
    )
    .fetch_optional(&state.pool)
    .await?
    .map(|l| Locale {
        time_zone: l.time_zone,
        units: if l.units == "imperial" {
            Units::Imperial
        } else {
            Units::Metric
        },
    })
    .unwrap_or_default();
    Ok(NotificationPreferences {
        locale,
        email: choices("email"),
        sms: choices("sms"),
        push: choices("push"),
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
        if !known_zone(&state, &q.time_zone).await? {
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
    if !known_zone(&state, &body.locale.time_zone).await? {
        errors.push(FieldError::new(
            "locale.time_zone",
            "is not a known time zone",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (mut channels, mut categories, mut enabled) = (Vec::new(), Vec::new(), Vec::new());
    for (channel, choices) in [
        ("email", &body.email),
        ("sms", &body.sms),
        ("push", &body.push),
    ] {
        for (category, on) in CATEGORIES.iter().zip(choices.enabled()) {
            channels.push(channel.to_owned());
            categories.push((*category).to_owned());
            enabled.push(on);
        }
    }
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "insert into channel_preferences (user_id, channel, category, enabled)
         select $1, ch, c, e from unnest($2::text[], $3::text[], $4::bool[]) as t(ch, c, e)
         on conflict (user_id, category, channel) do update set enabled = excluded.enabled",
        user.id(),
        &channels,
        &categories,
        &enabled
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into locale_preferences (user_id, time_zone, units) values ($1, $2, $3)
         on conflict (user_id) do update set time_zone = excluded.time_zone, units = excluded.units",
        user.id(),
        &body.locale.time_zone,
        match body.locale.units {
            Units::Metric => "metric",
            Units::Imperial => "imperial",
        }
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
    #[param(inline)]
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

/// One alert on one external channel (for push: one browser), and what became of it.
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
    /// SMS: the gateway's receipt, `delivered` or `undelivered` (the handset was never
    /// reached), once it came.
    receipt: Option<String>,
    receipt_at: Option<DateTime<Utc>>,
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
                created_at, sent_at, receipt, receipt_at
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
                   created_at, sent_at, receipt, receipt_at",
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
