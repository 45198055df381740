//! Session types (`/api/sessions/types`), a gym's rooms (`/api/sessions/rooms`) and the
//! sessions on a trainer's calendar (`/api/sessions`): 1:1 sessions appear when booked;
//! group classes are scheduled, once or weekly, and booked by session.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use fitsync_events::{
    CloudEvent, RoomSaved, SessionChanged, SessionTypeSaved, Topic, WeeklyHours, ROOM_SAVED_V1,
    SESSION_CHANGED_V1, SESSION_TYPE_SAVED_V1,
};
use fitsync_platform::{
    auth::{Grants, Relationships, Role},
    outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError,
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    access::{clock, may_manage_trainer, may_see_trainer, offers, owner_of, taken, time_zone},
    availability::{schedule_row, ScheduleRow},
    slots::{instant, Hours, Timetable},
    ScheduleState, SOURCE,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    OneOnOne,
    Group,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::OneOnOne => "one_on_one",
            SessionKind::Group => "group",
        }
    }
}

/// A kind of session a trainer or a gym offers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionType {
    pub(crate) id: Uuid,
    /// `trainer` or `gym`.
    pub(crate) owner_kind: String,
    pub(crate) owner_id: Uuid,
    pub(crate) name: String,
    /// `one_on_one` or `group`.
    pub(crate) kind: String,
    pub(crate) duration_min: i32,
    pub(crate) capacity: i32,
    pub(crate) room_id: Option<Uuid>,
    /// Credits a booking costs.
    pub(crate) credits: i32,
    /// A booking cancelled less than this many hours before the start is a late cancel
    /// (its credit forfeited).
    pub(crate) cancel_window_hours: i32,
}

pub(crate) type TypeRow = SessionType;

/// A new session type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionTypeRequest {
    #[schema(min_length = 1, max_length = 120)]
    name: String,
    kind: SessionKind,
    #[schema(minimum = 5, maximum = 480)]
    duration_min: i32,
    /// Places in a group class (1:1: always 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 500)]
    capacity: Option<i32>,
    /// One of the gym's rooms.
    #[serde(default)]
    room_id: Option<Uuid>,
    /// Credits a booking costs, from a package of the type's owner (default 0: free).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    credits: i32,
    /// Default 24.
    #[serde(default = "day")]
    #[schema(minimum = 0, maximum = 168)]
    cancel_window_hours: i32,
}

fn one() -> i32 {
    1
}

fn day() -> i32 {
    24
}

pub(crate) async fn type_row(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<TypeRow>, ApiError> {
    Ok(sqlx::query_as!(
        SessionType,
        "select id, owner_kind, owner_id, name, kind, duration_min, capacity, room_id, credits,
                cancel_window_hours
         from session_types where id = $1",
        id
    )
    .fetch_optional(db)
    .await?)
}

/// `POST /api/sessions/types`
#[utoipa::path(
    post, path = "/api/sessions/types", tag = "schedule",
    summary = "Offer a session type: 1:1 or a group class, its duration, capacity, room, price in credits and cancellation window (trainers for themselves, gyms)",
    request_body = SessionTypeRequest,
    responses((status = 201, description = "Created", body = SessionType)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn create_type(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiJson(req): ApiJson<SessionTypeRequest>,
) -> Result<(StatusCode, Json<SessionType>), ApiError> {
    let (owner_kind, owner_id) = owner_of(&user)?;
    let mut errors = Vec::new();
    let name = req.name.trim().to_owned();
    if !crate::access::name_ok(&name) {
        errors.push(FieldError::new("name", "1 to 120 characters, no NUL"));
    }
    if !(5..=480).contains(&req.duration_min) {
        errors.push(FieldError::new("duration_min", "5 to 480"));
    }
    let capacity = match (req.kind, req.capacity) {
        (SessionKind::OneOnOne, None | Some(1)) => 1,
        (SessionKind::OneOnOne, Some(_)) => {
            errors.push(FieldError::new("capacity", "a 1:1 session has one place"));
            1
        }
        (SessionKind::Group, Some(c)) if (1..=500).contains(&c) => c,
        (SessionKind::Group, _) => {
            errors.push(FieldError::new("capacity", "a class needs 1 to 500 places"));
            1
        }
    };
    if !(0..=100).contains(&req.credits) {
        errors.push(FieldError::new("credits", "0 to 100"));
    }
    if !(0..=168).contains(&req.cancel_window_hours) {
        errors.push(FieldError::new("cancel_window_hours", "0 to 168"));
    }
    if let Some(room) = req.room_id {
        let gym = sqlx::query_scalar!("select gym_id from rooms where id = $1", room)
            .fetch_optional(&state.pool)
            .await?;
        let ours = match gym {
            Some(gym) if owner_kind == "gym" => gym == owner_id,
            Some(gym) => {
                Grants::new(&state.pool, &state.auth)
                    .in_gym(gym, owner_id)
                    .await?
            }
            None => false,
        };
        if !ours {
            errors.push(FieldError::new(
                "room_id",
                "not a room of a gym you belong to",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = state.pool.begin().await?;
    let t = sqlx::query_as!(
        SessionType,
        "insert into session_types (id, owner_kind, owner_id, name, kind, duration_min, capacity,
                                    room_id, credits, cancel_window_hours)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning id, owner_kind, owner_id, name, kind, duration_min, capacity, room_id, credits,
                   cancel_window_hours",
        Uuid::now_v7(),
        owner_kind,
        owner_id,
        name,
        req.kind.as_str(),
        req.duration_min,
        capacity,
        req.room_id,
        req.credits,
        req.cancel_window_hours
    )
    .fetch_one(&mut *tx)
    .await?;
    let event = CloudEvent::new(
        SOURCE,
        SESSION_TYPE_SAVED_V1,
        owner_id.to_string(),
        SessionTypeSaved {
            session_type_id: t.id,
            owner_kind: t.owner_kind.clone(),
            owner_id,
            name: t.name.clone(),
            kind: t.kind.clone(),
            duration_min: t.duration_min,
            capacity: t.capacity,
            room_id: t.room_id,
            credits: t.credits,
            cancel_window_hours: t.cancel_window_hours,
        },
    );
    outbox::enqueue(&mut tx, Topic::Schedule, &event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TypesQuery {
    /// The trainer or gym that offers them.
    owner_id: Uuid,
}

/// `GET /api/sessions/types?owner_id=`
#[utoipa::path(
    get, path = "/api/sessions/types", tag = "schedule",
    summary = "The session types a trainer or a gym offers (anyone signed in)",
    params(TypesQuery),
    responses((status = 200, description = "Session types", body = Vec<SessionType>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list_types(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<TypesQuery>,
) -> Result<Json<Vec<SessionType>>, ApiError> {
    Ok(Json(
        sqlx::query_as!(
            SessionType,
            "select id, owner_kind, owner_id, name, kind, duration_min, capacity, room_id, credits,
                    cancel_window_hours
             from session_types where owner_id = $1 order by name, id",
            q.owner_id
        )
        .fetch_all(&state.pool)
        .await?,
    ))
}

/// Weekly opening hours of a room.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomHours {
    #[schema(minimum = 1, maximum = 7)]
    weekday: u8,
    #[schema(example = "06:00")]
    starts: String,
    #[schema(example = "22:00")]
    ends: String,
}

/// A new room.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomRequest {
    #[schema(min_length = 1, max_length = 120)]
    name: String,
    #[schema(example = "Europe/Berlin")]
    time_zone: String,
    #[schema(max_items = 70)]
    hours: Vec<RoomHours>,
}

/// A gym's room.
#[derive(Debug, Serialize, ToSchema)]
pub struct Room {
    id: Uuid,
    gym_id: Uuid,
    name: String,
    time_zone: String,
    hours: Vec<RoomHours>,
}

/// `POST /api/sessions/rooms`
#[utoipa::path(
    post, path = "/api/sessions/rooms", tag = "schedule",
    summary = "Add a room to the caller's gym, open on weekly hours in the gym's time zone (gyms)",
    request_body = RoomRequest,
    responses((status = 201, description = "Created", body = Room), (status = 409, description = "The gym has a room of that name", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn create_room(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiJson(req): ApiJson<RoomRequest>,
) -> Result<(StatusCode, Json<Room>), ApiError> {
    let gym = match owner_of(&user)? {
        ("gym", gym) => gym,
        _ => return Err(ApiError::Forbidden),
    };
    let mut errors = Vec::new();
    let name = req.name.trim().to_owned();
    if !crate::access::name_ok(&name) {
        errors.push(FieldError::new("name", "1 to 120 characters, no NUL"));
    }
    if let Err(ApiError::Validation(e)) = time_zone("time_zone", &req.time_zone) {
        errors.extend(e);
    }
    if req.hours.len() > 70 {
        errors.push(FieldError::new("hours", "at most 70 entries"));
    }
    for (i, h) in req.hours.iter().enumerate() {
        if !(1..=7).contains(&h.weekday) {
            errors.push(FieldError::new(
                format!("hours[{i}].weekday"),
                "1 (Monday) to 7 (Sunday)",
            ));
        }
        match (clock(&h.starts), clock(&h.ends)) {
            (Some(a), Some(b)) if a < b => {}
            _ => errors.push(FieldError::new(
                format!("hours[{i}]"),
                "starts and ends are times HH:MM, ends after starts",
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = state.pool.begin().await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into rooms (id, gym_id, name, time_zone) values ($1, $2, $3, $4)",
        id,
        gym,
        name,
        req.time_zone
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| match ApiError::from(e) {
        ApiError::Conflict(_) => ApiError::Conflict("the gym has a room of that name".into()),
        other => other,
    })?;
    for h in &req.hours {
        sqlx::query!(
            "insert into room_hours (room_id, weekday, starts, ends) values ($1, $2, $3, $4)",
            id,
            i16::from(h.weekday),
            clock(&h.starts),
            clock(&h.ends)
        )
        .execute(&mut *tx)
        .await?;
    }
    let event = CloudEvent::new(
        SOURCE,
        ROOM_SAVED_V1,
        gym.to_string(),
        RoomSaved {
            room_id: id,
            gym_id: gym,
            name: name.clone(),
            time_zone: req.time_zone.clone(),
            hours: req
                .hours
                .iter()
                .map(|h| WeeklyHours {
                    weekday: h.weekday,
                    starts: h.starts.clone(),
                    ends: h.ends.clone(),
                })
                .collect(),
        },
    );
    outbox::enqueue(&mut tx, Topic::Schedule, &event).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Room {
            id,
            gym_id: gym,
            name,
            time_zone: req.time_zone,
            hours: req.hours,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RoomsQuery {
    gym_id: Uuid,
}

/// `GET /api/sessions/rooms?gym_id=`
#[utoipa::path(
    get, path = "/api/sessions/rooms", tag = "schedule",
    summary = "A gym's rooms and their hours (anyone signed in)",
    params(RoomsQuery),
    responses((status = 200, description = "Rooms", body = Vec<Room>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list_rooms(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<RoomsQuery>,
) -> Result<Json<Vec<Room>>, ApiError> {
    let rooms = sqlx::query!(
        "select id, gym_id, name, time_zone from rooms where gym_id = $1 order by name",
        q.gym_id
    )
    .fetch_all(&state.pool)
    .await?;
    let mut out = Vec::with_capacity(rooms.len());
    for r in rooms {
        let hours = sqlx::query!(
            "select weekday, starts, ends from room_hours where room_id = $1 order by weekday, starts",
            r.id
        )
        .fetch_all(&state.pool)
        .await?;
        out.push(Room {
            id: r.id,
            gym_id: r.gym_id,
            name: r.name,
            time_zone: r.time_zone,
            hours: hours
                .into_iter()
                .map(|h| RoomHours {
                    weekday: h.weekday as u8,
                    starts: h.starts.format("%H:%M").to_string(),
                    ends: h.ends.format("%H:%M").to_string(),
                })
                .collect(),
        });
    }
    Ok(Json(out))
}

/// A session on a trainer's calendar.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Session {
    id: Uuid,
    session_type_id: Uuid,
    trainer_id: Uuid,
    room_id: Option<Uuid>,
    /// `one_on_one` or `group`.
    kind: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    capacity: i32,
    /// Places taken.
    booked: i32,
    /// Clients in line for a place.
    waitlisted: i64,
    /// `scheduled` or `cancelled`.
    status: String,
    revision: i32,
}

pub(crate) struct SessionRow {
    pub id: Uuid,
    pub session_type_id: Uuid,
    pub trainer_id: Uuid,
    pub room_id: Option<Uuid>,
    pub kind: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub booked: i32,
    pub status: String,
    pub revision: i32,
}

/// A session row; with `lock`, held until the transaction ends (every change of its
/// places takes this lock first, so places and the waitlist change in arrival order).
pub(crate) async fn session_row(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    lock: bool,
) -> Result<Option<SessionRow>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            SessionRow,
            r#"select id, session_type_id, trainer_id, room_id, kind, lower(period) as "starts_at!",
                      upper(period) as "ends_at!", capacity, booked, status, revision
               from sessions where id = $1 for update"#,
            id
        )
        .fetch_optional(db)
        .await?
    } else {
        sqlx::query_as!(
            SessionRow,
            r#"select id, session_type_id, trainer_id, room_id, kind, lower(period) as "starts_at!",
                      upper(period) as "ends_at!", capacity, booked, status, revision
               from sessions where id = $1"#,
            id
        )
        .fetch_optional(db)
        .await?
    };
    Ok(row)
}

/// A session with its waitlist's length.
pub(crate) async fn with_waitlist(
    conn: &mut PgConnection,
    s: SessionRow,
) -> Result<Session, ApiError> {
    let waitlisted = sqlx::query_scalar!(
        r#"select count(*) as "n!" from bookings where session_id = $1 and status = 'waitlisted'"#,
        s.id
    )
    .fetch_one(conn)
    .await?;
    Ok(Session {
        id: s.id,
        session_type_id: s.session_type_id,
        trainer_id: s.trainer_id,
        room_id: s.room_id,
        kind: s.kind,
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        capacity: s.capacity,
        booked: s.booked,
        waitlisted,
        status: s.status,
        revision: s.revision,
    })
}

pub(crate) async fn session_event(conn: &mut PgConnection, s: &SessionRow) -> Result<(), ApiError> {
    let event = CloudEvent::new(
        SOURCE,
        SESSION_CHANGED_V1,
        s.trainer_id.to_string(),
        SessionChanged {
            session_id: s.id,
            session_type_id: s.session_type_id,
            trainer_id: s.trainer_id,
            room_id: s.room_id,
            kind: s.kind.clone(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            capacity: s.capacity,
            booked: s.booked,
            status: s.status.clone(),
            revision: s.revision,
        },
    );
    outbox::enqueue(conn, Topic::Schedule, &event).await?;
    Ok(())
}

/// Inserts a session (the trainer's schedule row locked by the caller) and bumps the
/// generations the slot cache is keyed by.
pub(crate) async fn insert_session(
    conn: &mut PgConnection,
    t: &TypeRow,
    trainer: Uuid,
    starts_at: DateTime<Utc>,
    buffers: (i32, i32),
    booked: i32,
) -> Result<SessionRow, ApiError> {
    if let Some(room) = t.room_id {
        // Two trainers' sessions in one room: the same deadlock as two places of one
        // client (`bookings::lock_client`), avoided the same way.
        sqlx::query!(
            "select pg_advisory_xact_lock(hashtextextended($1::uuid::text, 1))",
            room
        )
        .execute(&mut *conn)
        .await?;
    }
    let ends_at = starts_at + Duration::minutes(t.duration_min.into());
    let blocked = (
        starts_at - Duration::minutes(buffers.0.into()),
        ends_at + Duration::minutes(buffers.1.into()),
    );
    let s = sqlx::query_as!(
        SessionRow,
        r#"insert into sessions (id, session_type_id, trainer_id, room_id, kind, period, blocked,
                                 capacity, booked)
           values ($1, $2, $3, $4, $5, tstzrange($6, $7), tstzrange($8, $9), $10, $11)
           returning id, session_type_id, trainer_id, room_id, kind, lower(period) as "starts_at!",
                     upper(period) as "ends_at!", capacity, booked, status, revision"#,
        Uuid::now_v7(),
        t.id,
        trainer,
        t.room_id,
        t.kind,
        starts_at,
        ends_at,
        blocked.0,
        blocked.1,
        t.capacity,
        booked
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(taken)?;
    bump(conn, trainer, t.room_id).await?;
    Ok(s)
}

/// Bumps the generations of a trainer's schedule (and a room): cached slots computed
/// before this transaction are never served after it commits.
pub(crate) async fn bump(
    conn: &mut PgConnection,
    trainer: Uuid,
    room: Option<Uuid>,
) -> Result<(), ApiError> {
    sqlx::query!(
        "update trainer_schedules set generation = generation + 1 where trainer_id = $1",
        trainer
    )
    .execute(&mut *conn)
    .await?;
    if let Some(room) = room {
        sqlx::query!(
            "update rooms set generation = generation + 1 where id = $1",
            room
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Scheduling a group class.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// A group session type the trainer offers (theirs, or their gym's).
    session_type_id: Uuid,
    trainer_id: Uuid,
    /// The first occurrence.
    starts_at: DateTime<Utc>,
    /// Repeat weekly at the same local time in the trainer's time zone, this many
    /// occurrences in all (default 1).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 52)]
    weeks: i32,
}

/// `POST /api/sessions`
#[utoipa::path(
    post, path = "/api/sessions", tag = "schedule",
    summary = "Schedule a group class, once or weekly at the same local time (the trainer, their gym, admins); all occurrences or none",
    request_body = ScheduleRequest,
    responses((status = 201, description = "Scheduled", body = Vec<Session>), (status = 409, description = "The trainer or the room is not free then", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn schedule(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiJson(req): ApiJson<ScheduleRequest>,
) -> Result<(StatusCode, Json<Vec<Session>>), ApiError> {
    may_manage_trainer(&state, &user, req.trainer_id).await?;
    if !(1..=52).contains(&req.weeks) {
        return Err(ApiError::field("weeks", "1 to 52"));
    }
    let now = Utc::now();
    if req.starts_at <= now || req.starts_at > now + Duration::days(730) {
        return Err(ApiError::field(
            "starts_at",
            "in the future, within two years",
        ));
    }
    // Every check that reads the access projection comes before the transaction: a
    // request never holds one pooled connection while it waits for another.
    let t = type_row(&state.pool, req.session_type_id).await?;
    let t = match t {
        Some(t)
            if t.kind == "group"
                && offers(&state, &t.owner_kind, t.owner_id, req.trainer_id).await? =>
        {
            t
        }
        _ => {
            return Err(ApiError::field(
                "session_type_id",
                "not a group session type this trainer offers",
            ))
        }
    };
    let mut tx = state.pool.begin().await?;
    let s = calendar_of(&mut tx, req.trainer_id).await?;
    let tz = s.tz();
    let room_hours = match t.room_id {
        Some(room) => Some(room_timetable(&mut tx, room).await?),
        None => None,
    };
    let local = req.starts_at.with_timezone(&tz);
    let mut out = Vec::new();
    for week in 0..req.weeks {
        let date = local.date_naive() + Duration::weeks(week.into());
        let starts_at = instant(tz, date, local.time(), false);
        let span = (
            starts_at,
            starts_at + Duration::minutes(t.duration_min.into()),
        );
        if let Some(hours) = &room_hours {
            if !hours
                .open_during(span)
                .iter()
                .any(|o| o.0 <= span.0 && span.1 <= o.1)
            {
                return Err(ApiError::Conflict(format!(
                    "the room is closed at {}",
                    starts_at.with_timezone(&tz).to_rfc3339()
                )));
            }
        }
        let session = insert_session(
            &mut tx,
            &t,
            req.trainer_id,
            starts_at,
            (s.buffer_before_min, s.buffer_after_min),
            0,
        )
        .await?;
        session_event(&mut tx, &session).await?;
        out.push(with_waitlist(&mut tx, session).await?);
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// The trainer's schedule row, locked; a trainer without hours still has a calendar
/// (and a time zone: UTC until set).
pub(crate) async fn calendar_of(
    conn: &mut PgConnection,
    trainer: Uuid,
) -> Result<ScheduleRow, ApiError> {
    sqlx::query!(
        "insert into trainer_schedules (trainer_id, time_zone) values ($1, 'UTC')
         on conflict (trainer_id) do nothing",
        trainer
    )
    .execute(&mut *conn)
    .await?;
    schedule_row(&mut *conn, trainer, true)
        .await?
        .ok_or(ApiError::NotFound)
}

/// A room's weekly hours in its time zone.
pub(crate) async fn room_timetable(
    conn: &mut PgConnection,
    room: Uuid,
) -> Result<Timetable, ApiError> {
    let tz = sqlx::query_scalar!("select time_zone from rooms where id = $1", room)
        .fetch_one(&mut *conn)
        .await?;
    let hours = sqlx::query!(
        "select weekday, starts, ends from room_hours where room_id = $1",
        room
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Timetable {
        tz: tz.parse().unwrap_or(Tz::UTC),
        weekly: hours
            .into_iter()
            .map(|h| Hours {
                weekday: h.weekday as u8,
                starts: h.starts,
                ends: h.ends,
            })
            .collect(),
        exceptions: vec![],
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionsQuery {
    trainer_id: Uuid,
    /// Sessions starting at or after (default: now).
    from: Option<DateTime<Utc>>,
    /// Sessions starting before (default: 28 days after `from`; at most 92 days after).
    to: Option<DateTime<Utc>>,
}

/// `GET /api/sessions?trainer_id=`
#[utoipa::path(
    get, path = "/api/sessions", tag = "schedule",
    summary = "A trainer's calendar: sessions and classes with places taken (whoever may see the trainer's hours)",
    params(SessionsQuery),
    responses((status = 200, description = "Sessions in time order", body = Vec<Session>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<SessionsQuery>,
) -> Result<Json<Vec<Session>>, ApiError> {
    may_see_trainer(&state, &user, q.trainer_id).await?;
    let from = q.from.unwrap_or_else(Utc::now);
    let to = q.to.unwrap_or(from + Duration::days(28));
    if to < from || to - from > Duration::days(92) {
        return Err(ApiError::field(
            "to",
            "on or after from, at most 92 days after it",
        ));
    }
    let rows = sqlx::query_as!(
        Session,
        r#"select s.id, s.session_type_id, s.trainer_id, s.room_id, s.kind,
                  lower(s.period) as "starts_at!", upper(s.period) as "ends_at!", s.capacity, s.booked,
                  (select count(*) from bookings b where b.session_id = s.id and b.status = 'waitlisted') as "waitlisted!",
                  s.status, s.revision
           from sessions s
           where s.trainer_id = $1 and lower(s.period) >= $2 and lower(s.period) < $3
           order by lower(s.period), s.id"#,
        q.trainer_id,
        from,
        to
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// A place on a session, as its trainer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attendee {
    booking_id: Uuid,
    client_id: Uuid,
    status: String,
    /// Place in line while waitlisted (1 = next).
    waitlist_position: Option<i64>,
}

/// A session and, for those who run it, who holds its places.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    session: Session,
    /// Present for the trainer, their gym and admins.
    attendees: Option<Vec<Attendee>>,
}

/// `GET /api/sessions/{id}`
#[utoipa::path(
    get, path = "/api/sessions/{id}", tag = "schedule",
    summary = "A session; its attendees and waitlist for the trainer, their gym and admins",
    params(("id" = Uuid, Path, description = "The session")),
    responses((status = 200, description = "The session", body = SessionDetail), (status = 404, description = "No such session the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn get(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SessionDetail>, ApiError> {
    let s = session_row(&state.pool, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    match may_see_trainer(&state, &user, s.trainer_id).await {
        Err(ApiError::Forbidden) => return Err(ApiError::NotFound),
        other => other?,
    }
    let manages = may_manage_trainer(&state, &user, s.trainer_id)
        .await
        .is_ok()
        || user.role() == Role::Service;
    let mut conn = state.pool.acquire().await?;
    let attendees = if manages {
        Some(
            sqlx::query_as!(
                Attendee,
                r#"select id as booking_id, client_id, status,
                          case when status = 'waitlisted' then
                            (select count(*) from bookings w where w.session_id = b.session_id
                               and w.status = 'waitlisted' and w.waitlisted_seq <= b.waitlisted_seq)
                          end as waitlist_position
                   from bookings b where session_id = $1
                   order by status = 'waitlisted', waitlisted_seq, created_at"#,
                id
            )
            .fetch_all(&mut *conn)
            .await?,
        )
    } else {
        None
    };
    let session = with_waitlist(&mut conn, s).await?;
    Ok(Json(SessionDetail { session, attendees }))
}
