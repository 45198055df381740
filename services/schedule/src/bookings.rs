//! Bookings (`/api/bookings`): a client books a free 1:1 slot with a trainer, or a
//! place on a class — booked while places are left, waitlisted in arrival order after —
//! and cancels; a cancelled place goes to the first in line.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Duration, Utc};
use fitsync_events::{BookingChanged, CloudEvent, Topic, BOOKING_CHANGED_V1};
use fitsync_platform::{
    auth::{Grants, Role},
    outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser,
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    access::{may_book_with, taken},
    availability::{constraints, schedule_row, ScheduleRow},
    credits,
    sessions::{bump, insert_session, session_event, session_row, type_row, SessionRow, TypeRow},
    slots::free_slots,
    ScheduleState, SOURCE,
};

/// A client's place on a session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Booking {
    id: Uuid,
    session_id: Uuid,
    session_type_id: Uuid,
    client_id: Uuid,
    trainer_id: Uuid,
    /// `one_on_one` or `group`.
    kind: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    /// `booked`, `waitlisted`, `cancelled` or `late_cancelled`.
    status: String,
    /// Place in line while waitlisted (1 = next).
    waitlist_position: Option<i64>,
    /// Credits the session costs.
    credits: i32,
    /// Cancelling after this instant is a late cancel.
    free_cancellation_until: DateTime<Utc>,
    revision: i32,
    created_at: DateTime<Utc>,
    /// The weekly series it belongs to, if it was booked as one.
    series_id: Option<Uuid>,
}

struct BookingRow {
    id: Uuid,
    session_id: Uuid,
    client_id: Uuid,
    trainer_id: Uuid,
    status: String,
    waitlisted_seq: Option<i64>,
    revision: i32,
    created_at: DateTime<Utc>,
    series_id: Option<Uuid>,
}

async fn booking_row(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    lock: bool,
) -> Result<Option<BookingRow>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            BookingRow,
            "select id, session_id, client_id, trainer_id, status, waitlisted_seq, revision, created_at, series_id
             from bookings where id = $1 for update",
            id
        )
        .fetch_optional(db)
        .await?
    } else {
        sqlx::query_as!(
            BookingRow,
            "select id, session_id, client_id, trainer_id, status, waitlisted_seq, revision, created_at, series_id
             from bookings where id = $1",
            id
        )
        .fetch_optional(db)
        .await?
    };
    Ok(row)
}

/// The booking as the API and its event show it.
async fn view(
    conn: &mut PgConnection,
    b: &BookingRow,
    s: &SessionRow,
    t: &TypeRow,
) -> Result<Booking, ApiError> {
    let waitlist_position = match b.waitlisted_seq {
        Some(seq) => Some(
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from bookings
                   where session_id = $1 and status = 'waitlisted' and waitlisted_seq <= $2"#,
                s.id,
                seq
            )
            .fetch_one(conn)
            .await?,
        ),
        None => None,
    };
    Ok(Booking {
        id: b.id,
        session_id: s.id,
        session_type_id: s.session_type_id,
        client_id: b.client_id,
        trainer_id: b.trainer_id,
        kind: s.kind.clone(),
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        status: b.status.clone(),
        waitlist_position,
        credits: t.credits,
        free_cancellation_until: s.starts_at - Duration::hours(t.cancel_window_hours.into()),
        revision: b.revision,
        created_at: b.created_at,
        series_id: b.series_id,
    })
}

async fn booking_event(conn: &mut PgConnection, b: &Booking, change: &str) -> Result<(), ApiError> {
    let event = CloudEvent::new(
        SOURCE,
        BOOKING_CHANGED_V1,
        b.client_id.to_string(),
        BookingChanged {
            booking_id: b.id,
            session_id: b.session_id,
            session_type_id: b.session_type_id,
            client_id: b.client_id,
            trainer_id: b.trainer_id,
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            status: b.status.clone(),
            change: change.to_owned(),
            waitlist_position: b
                .waitlist_position
                .map(|p| i32::try_from(p).unwrap_or(i32::MAX)),
            credits: b.credits,
            revision: b.revision,
        },
    );
    outbox::enqueue(conn, Topic::Schedule, &event).await?;
    Ok(())
}

/// Whether a 1:1 of type `t` may start at `starts_at` with the trainer whose schedule row
/// the caller holds locked (a session `moving` there frees its own time): 422 when the
/// trainer does not offer that time, 409 when it is taken.
async fn check_slot(
    conn: &mut PgConnection,
    sched: &ScheduleRow,
    t: &TypeRow,
    starts_at: DateTime<Utc>,
    moving: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let day = starts_at.with_timezone(&sched.tz()).date_naive();
    let (table, c) = constraints(conn, sched, t, (day, day), moving).await?;
    if !sched.bookable(now, starts_at) {
        return Err(ApiError::field(
            "starts_at",
            "outside the trainer's booking window (minimum notice, horizon)",
        ));
    }
    if free_slots(&table, &c, day, day).contains(&starts_at) {
        return Ok(());
    }
    let mut open = c;
    open.trainer_busy.clear();
    open.room = open.room.map(|(hours, _)| (hours, Vec::new()));
    open.max_per_day = None;
    open.max_per_week = None;
    Err(
        if free_slots(&table, &open, day, day).contains(&starts_at) {
            ApiError::Conflict("that slot is no longer free".into())
        } else {
            ApiError::field("starts_at", "not a slot the trainer offers")
        },
    )
}

/// What a booking request names, checked.
enum Target {
    Class(Uuid, TypeRow),
    Slot(Uuid, TypeRow, DateTime<Utc>),
}

/// Booking a place: a class by its session, or a 1:1 slot by trainer, type and start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookRequest {
    /// A scheduled class (give this alone).
    #[serde(default)]
    session_id: Option<Uuid>,
    /// For a 1:1: the trainer, a 1:1 session type they offer, and a free slot's start.
    #[serde(default)]
    trainer_id: Option<Uuid>,
    #[serde(default)]
    session_type_id: Option<Uuid>,
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
}

/// Serializes the changes of one client's places (taken after the trainer's, session's
/// or room's lock, in that order everywhere). Two transactions inserting overlapping
/// places of one client would otherwise each wait for the other inside the exclusion
/// constraint's check, which PostgreSQL resolves by aborting one as a deadlock.
pub(crate) async fn lock_client(conn: &mut PgConnection, client: Uuid) -> Result<(), ApiError> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended($1::uuid::text, 0))",
        client
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_booking(
    conn: &mut PgConnection,
    client: Uuid,
    s: &SessionRow,
    waitlisted: bool,
) -> Result<BookingRow, ApiError> {
    lock_client(conn, client).await?;
    sqlx::query_as!(
        BookingRow,
        "insert into bookings (id, session_id, client_id, trainer_id, period, status, waitlisted_seq)
         values ($1, $2, $3, $4, tstzrange($5, $6), $7,
                 case when $8 then nextval('waitlist_arrivals') end)
         returning id, session_id, client_id, trainer_id, status, waitlisted_seq, revision, created_at, series_id",
        Uuid::now_v7(),
        s.id,
        client,
        s.trainer_id,
        s.starts_at,
        s.ends_at,
        if waitlisted { "waitlisted" } else { "booked" },
        waitlisted
    )
    .fetch_one(conn)
    .await
    .map_err(taken)
}

/// Takes a place on a session, or a place in line when none is left (the session
/// locked by the caller).
async fn take_place(
    conn: &mut PgConnection,
    client: Uuid,
    s: &mut SessionRow,
) -> Result<BookingRow, ApiError> {
    let waitlisted = s.booked >= s.capacity;
    let b = insert_booking(conn, client, s, waitlisted).await?;
    if !waitlisted {
        places_changed(conn, s, 1).await?;
    }
    Ok(b)
}

/// Charges a place (booked or in line) its type's price from the client's credits with
/// the type's owner; a place given up in time is refunded (`cancel`).
async fn pay(conn: &mut PgConnection, b: &BookingRow, t: &TypeRow) -> Result<(), ApiError> {
    if t.credits > 0 {
        credits::consume(conn, b.client_id, t.owner_id, t.credits, b.id).await?;
    }
    Ok(())
}

/// Adds `delta` to the places taken on a session (locked by the caller).
async fn places_changed(
    conn: &mut PgConnection,
    s: &mut SessionRow,
    delta: i32,
) -> Result<(), ApiError> {
    let (booked, revision) = sqlx::query_as::<_, (i32, i32)>(
        "update sessions set booked = booked + $2, revision = revision + 1 where id = $1
         returning booked, revision",
    )
    .bind(s.id)
    .bind(delta)
    .fetch_one(&mut *conn)
    .await?;
    s.booked = booked;
    s.revision = revision;
    session_event(conn, s).await
}

/// `POST /api/bookings`
#[utoipa::path(
    post, path = "/api/bookings", tag = "schedule",
    summary = "Book a free 1:1 slot or a place on a class; a full class puts the client in line (clients, for themselves)",
    request_body = BookRequest,
    responses(
        (status = 201, description = "Booked, or waitlisted (see status and waitlist_position)", body = Booking),
        (status = 409, description = "The slot is taken, or the client holds a session at that time", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn book(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiJson(req): ApiJson<BookRequest>,
) -> Result<(StatusCode, Json<Booking>), ApiError> {
    let client = user.id();
    user.may_write_client(client)?;
    let now = Utc::now();
    // What is booked, and whether the client may: checked before the transaction, so a
    // request never holds a pooled connection while it waits for another.
    let target = match (
        req.session_id,
        req.trainer_id,
        req.session_type_id,
        req.starts_at,
    ) {
        (Some(session), None, None, None) => {
            let s = session_row(&state.pool, session, false)
                .await?
                .ok_or_else(|| ApiError::field("session_id", "no such session"))?;
            let t = type_row(&state.pool, s.session_type_id)
                .await?
                .ok_or(ApiError::NotFound)?;
            if s.kind != "group"
                || !may_book_with(&state, client, s.trainer_id, &t.owner_kind, t.owner_id).await?
            {
                return Err(ApiError::field("session_id", "not a class you may book"));
            }
            Target::Class(s.id, t)
        }
        (None, Some(trainer), Some(session_type), Some(starts_at)) => {
            let t = type_row(&state.pool, session_type)
                .await?
                .ok_or_else(|| ApiError::field("session_type_id", "no such session type"))?;
            if t.kind != "one_on_one"
                || !crate::access::offers(&state, &t.owner_kind, t.owner_id, trainer).await?
            {
                return Err(ApiError::field(
                    "session_type_id",
                    "not a 1:1 session type this trainer offers",
                ));
            }
            if !may_book_with(&state, client, trainer, &t.owner_kind, t.owner_id).await? {
                return Err(ApiError::field("trainer_id", "not a trainer you may book"));
            }
            Target::Slot(trainer, t, starts_at)
        }
        _ => {
            return Err(ApiError::field(
                "body",
                "give session_id (a class), or trainer_id, session_type_id and starts_at (a 1:1)",
            ))
        }
    };
    let mut tx = state.pool.begin().await?;
    let (b, s, t, change) = match target {
        Target::Class(session, t) => {
            // The class's row lock orders every change of its places: arrival order.
            let mut s = session_row(&mut *tx, session, true)
                .await?
                .ok_or(ApiError::NotFound)?;
            if s.status != "scheduled" || s.starts_at <= now {
                return Err(ApiError::Conflict(
                    "the class is cancelled or has started".into(),
                ));
            }
            let b = take_place(&mut tx, client, &mut s).await?;
            pay(&mut tx, &b, &t).await?;
            let change = if b.status == "waitlisted" {
                "waitlisted"
            } else {
                "booked"
            };
            (b, s, t, change)
        }
        Target::Slot(trainer, t, starts_at) => {
            // Serializes every booking with this trainer: the slot check below sees
            // every booking committed before it, and the limits stay exact.
            let sched = schedule_row(&mut *tx, trainer, true)
                .await?
                .ok_or_else(|| {
                    ApiError::field("trainer_id", "the trainer has no bookable hours")
                })?;
            check_slot(&mut tx, &sched, &t, starts_at, None, now).await?;
            let mut s = insert_session(
                &mut tx,
                &t,
                trainer,
                starts_at,
                (sched.buffer_before_min, sched.buffer_after_min),
                0,
            )
            .await?;
            let b = take_place(&mut tx, client, &mut s).await?;
            pay(&mut tx, &b, &t).await?;
            (b, s, t, "booked")
        }
    };
    let booking = view(&mut tx, &b, &s, &t).await?;
    booking_event(&mut tx, &booking, change).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(booking)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BookingsQuery {
    /// Whose bookings (default: the caller's).
    client_id: Option<Uuid>,
    /// Sessions starting at or after (default: 30 days ago).
    from: Option<DateTime<Utc>>,
    /// Sessions starting before (default: 92 days after `from`; at most 366 days after).
    to: Option<DateTime<Utc>>,
}

/// `GET /api/bookings`
#[utoipa::path(
    get, path = "/api/bookings", tag = "schedule",
    summary = "A client's bookings in time order (the client, their trainer, their gym, admins)",
    params(BookingsQuery),
    responses((status = 200, description = "Bookings", body = Vec<Booking>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<BookingsQuery>,
) -> Result<Json<Vec<Booking>>, ApiError> {
    let client = q.client_id.unwrap_or(user.id());
    user.may_read_client(client, &Grants::new(&state.pool, &state.auth))
        .await?;
    let from = q.from.unwrap_or_else(|| Utc::now() - Duration::days(30));
    let to = q.to.unwrap_or(from + Duration::days(92));
    if to < from || to - from > Duration::days(366) {
        return Err(ApiError::field(
            "to",
            "on or after from, at most 366 days after it",
        ));
    }
    let rows = sqlx::query_as!(
        Booking,
        r#"select b.id, b.session_id, s.session_type_id, b.client_id, b.trainer_id, s.kind,
                  lower(s.period) as "starts_at!", upper(s.period) as "ends_at!", b.status,
                  case when b.status = 'waitlisted' then
                    (select count(*) from bookings w where w.session_id = b.session_id
                       and w.status = 'waitlisted' and w.waitlisted_seq <= b.waitlisted_seq)
                  end as waitlist_position,
                  t.credits, lower(s.period) - make_interval(hours => t.cancel_window_hours) as "free_cancellation_until!",
                  b.revision, b.created_at, b.series_id
           from bookings b join sessions s on s.id = b.session_id
                join session_types t on t.id = s.session_type_id
           where b.client_id = $1 and lower(b.period) >= $2 and lower(b.period) < $3
           order by lower(b.period), b.created_at"#,
        client,
        from,
        to
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// May cancel or move a booking: the client, the session's trainer, admins. Whether the
/// client asks (only a client's change can be late).
fn may_change(user: &AuthUser, b: &BookingRow) -> Result<bool, ApiError> {
    let by_client = user.id() == b.client_id;
    if by_client || user.id() == b.trainer_id || user.role() == Role::Admin {
        Ok(by_client)
    } else {
        Err(ApiError::Forbidden)
    }
}

/// May see a booking: whoever may read the client's data, and the session's trainer.
async fn readable(state: &ScheduleState, user: &AuthUser, b: &BookingRow) -> Result<(), ApiError> {
    if user.id() == b.trainer_id {
        return Ok(());
    }
    match user
        .may_read_client(b.client_id, &Grants::new(&state.pool, &state.auth))
        .await
    {
        Err(ApiError::Forbidden) => Err(ApiError::NotFound),
        other => other,
    }
}

async fn load(
    pool: &sqlx::PgPool,
    id: Uuid,
) -> Result<(BookingRow, SessionRow, TypeRow), ApiError> {
    let b = booking_row(pool, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let s = session_row(pool, b.session_id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let t = type_row(pool, s.session_type_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((b, s, t))
}

/// `GET /api/bookings/{id}`
#[utoipa::path(
    get, path = "/api/bookings/{id}", tag = "schedule",
    summary = "A booking (the client, the session's trainer, the client's trainer and gym, admins)",
    params(("id" = Uuid, Path, description = "The booking")),
    responses((status = 200, description = "The booking", body = Booking), (status = 404, description = "No such booking the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn get(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Booking>, ApiError> {
    let (b, s, t) = load(&state.pool, id).await?;
    readable(&state, &user, &b).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(view(&mut conn, &b, &s, &t).await?))
}

/// `POST /api/bookings/{id}/cancel`
#[utoipa::path(
    post, path = "/api/bookings/{id}/cancel", tag = "schedule",
    summary = "Cancel a booking or leave the waitlist (the client; the session's trainer, never late; admins). Inside the type's window it is a late cancel. A freed place goes to the first in line",
    params(("id" = Uuid, Path, description = "The booking")),
    responses(
        (status = 200, description = "Cancelled (status cancelled or late_cancelled)", body = Booking),
        (status = 404, description = "No such booking the caller may see", body = fitsync_platform::Problem),
        (status = 409, description = "Already cancelled, or the session has started", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn cancel(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Booking>, ApiError> {
    let (b, s, t) = load(&state.pool, id).await?;
    readable(&state, &user, &b).await?;
    let by_client = may_change(&user, &b)?;
    let mut tx = state.pool.begin().await?;
    let booking = cancel_in(&mut tx, s.id, b.id, &t, by_client).await?;
    tx.commit().await?;
    Ok(Json(booking))
}

/// Cancels a place (a client's cancel inside the type's window is late): frees a 1:1's
/// time, or gives a class place to the first in line.
async fn cancel_in(
    tx: &mut PgConnection,
    session: Uuid,
    booking: Uuid,
    t: &TypeRow,
    by_client: bool,
) -> Result<Booking, ApiError> {
    // Lock order, as when booking: a 1:1's trainer, the session, then the booking.
    if t.kind == "one_on_one" {
        let trainer = sqlx::query_scalar!("select trainer_id from sessions where id = $1", session)
            .fetch_one(&mut *tx)
            .await?;
        schedule_row(&mut *tx, trainer, true).await?;
    }
    let mut s = session_row(&mut *tx, session, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    let b = booking_row(&mut *tx, booking, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = Utc::now();
    if !matches!(b.status.as_str(), "booked" | "waitlisted") {
        return Err(ApiError::Conflict(format!("the booking is {}", b.status)));
    }
    if s.starts_at <= now {
        return Err(ApiError::Conflict("the session has started".into()));
    }
    let held_place = b.status == "booked";
    let late = by_client
        && held_place
        && now > s.starts_at - Duration::hours(t.cancel_window_hours.into());
    let status = if late { "late_cancelled" } else { "cancelled" };
    let b = sqlx::query_as!(
        BookingRow,
        "update bookings set status = $2, waitlisted_seq = null, revision = revision + 1, updated_at = now()
         where id = $1
         returning id, session_id, client_id, trainer_id, status, waitlisted_seq, revision, created_at, series_id",
        b.id,
        status
    )
    .fetch_one(&mut *tx)
    .await?;
    // A late cancel keeps the credit; anything else gives it back.
    credits::settle(tx, b.id, !late).await?;
    if held_place && s.kind == "one_on_one" {
        // A 1:1 without its client is no session: the trainer's time is free again.
        let revision = sqlx::query_scalar!(
            "update sessions set status = 'cancelled', booked = 0, revision = revision + 1
             where id = $1 returning revision",
            s.id
        )
        .fetch_one(&mut *tx)
        .await?;
        s.status = "cancelled".into();
        s.booked = 0;
        s.revision = revision;
        session_event(tx, &s).await?;
        bump(tx, s.trainer_id, s.room_id).await?;
    } else if held_place {
        places_changed(tx, &mut s, -1).await?;
        promote(tx, &mut s, t).await?;
    }
    let booking = view(tx, &b, &s, t).await?;
    booking_event(tx, &booking, status).await?;
    Ok(booking)
}

/// Gives a free place on a class to the first in line, if anyone is (the session locked).
async fn promote(conn: &mut PgConnection, s: &mut SessionRow, t: &TypeRow) -> Result<(), ApiError> {
    if s.booked >= s.capacity {
        return Ok(());
    }
    let next = sqlx::query_as!(
        BookingRow,
        "update bookings set status = 'booked', waitlisted_seq = null, revision = revision + 1, updated_at = now()
         where id = (select id from bookings where session_id = $1 and status = 'waitlisted'
                     order by waitlisted_seq limit 1)
         returning id, session_id, client_id, trainer_id, status, waitlisted_seq, revision, created_at, series_id",
        s.id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(next) = next {
        places_changed(conn, s, 1).await?;
        let booking = view(conn, &next, s, t).await?;
        booking_event(conn, &booking, "promoted").await?;
    }
    Ok(())
}

/// Sets a booking's status (the booking locked by the caller), with its event.
async fn transition(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    change: &str,
) -> Result<Booking, ApiError> {
    let b = sqlx::query_as!(
        BookingRow,
        "update bookings set status = $2, revision = revision + 1, updated_at = now(),
                waitlisted_seq = case when $2 = 'waitlisted' then waitlisted_seq end
         where id = $1
         returning id, session_id, client_id, trainer_id, status, waitlisted_seq, revision, created_at, series_id",
        id,
        status
    )
    .fetch_one(&mut *conn)
    .await?;
    let s = session_row(&mut *conn, b.session_id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let t = type_row(&mut *conn, s.session_type_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let booking = view(conn, &b, &s, &t).await?;
    booking_event(conn, &booking, change).await?;
    Ok(booking)
}

/// Check-in opens this long before a session starts.
const CHECK_IN_OPENS_MIN: i64 = 60;

/// `POST /api/bookings/{id}/check-in`
#[utoipa::path(
    post, path = "/api/bookings/{id}/check-in", tag = "schedule",
    summary = "Check in to a booked session, from an hour before it starts until it ends (the client, the session's trainer)",
    params(("id" = Uuid, Path, description = "The booking")),
    responses(
        (status = 200, description = "Checked in", body = Booking),
        (status = 404, description = "No such booking the caller may see", body = fitsync_platform::Problem),
        (status = 409, description = "Not booked, or outside the check-in window", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn check_in(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Booking>, ApiError> {
    let (b, s, _) = load(&state.pool, id).await?;
    readable(&state, &user, &b).await?;
    if !(user.id() == b.client_id || user.id() == b.trainer_id) {
        return Err(ApiError::Forbidden);
    }
    let now = Utc::now();
    if now < s.starts_at - Duration::minutes(CHECK_IN_OPENS_MIN) || now >= s.ends_at {
        return Err(ApiError::Conflict(
            "check-in opens an hour before the session and closes when it ends".into(),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let b = booking_row(&mut *tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    if b.status != "booked" {
        return Err(ApiError::Conflict(format!("the booking is {}", b.status)));
    }
    let booking = transition(&mut tx, id, "checked_in", "checked_in").await?;
    tx.commit().await?;
    Ok(Json(booking))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Attended,
    NoShow,
}

/// How a session went for one client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceRequest {
    outcome: Outcome,
}

/// `POST /api/bookings/{id}/attendance`
#[utoipa::path(
    post, path = "/api/bookings/{id}/attendance", tag = "schedule",
    summary = "Mark a booked client attended or no-show once the session has started (the session's trainer, a gym they belong to, admins); a no-show keeps the credit",
    params(("id" = Uuid, Path, description = "The booking")),
    request_body = AttendanceRequest,
    responses(
        (status = 200, description = "Marked", body = Booking),
        (status = 404, description = "No such booking the caller may see", body = fitsync_platform::Problem),
        (status = 409, description = "Not booked or checked in, or the session has not started", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn attendance(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<AttendanceRequest>,
) -> Result<Json<Booking>, ApiError> {
    let (b, s, _) = load(&state.pool, id).await?;
    readable(&state, &user, &b).await?;
    crate::access::may_manage_trainer(&state, &user, b.trainer_id).await?;
    if Utc::now() < s.starts_at {
        return Err(ApiError::Conflict("the session has not started".into()));
    }
    let mut tx = state.pool.begin().await?;
    let b = booking_row(&mut *tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !matches!(b.status.as_str(), "booked" | "checked_in") {
        return Err(ApiError::Conflict(format!("the booking is {}", b.status)));
    }
    let booking = close_place(&mut tx, id, req.outcome).await?;
    tx.commit().await?;
    Ok(Json(booking))
}

/// Closes a place on a session that has happened (the booking locked by the caller): a
/// no-show keeps what it was charged.
async fn close_place(
    conn: &mut PgConnection,
    id: Uuid,
    outcome: Outcome,
) -> Result<Booking, ApiError> {
    let status = match outcome {
        Outcome::Attended => "attended",
        Outcome::NoShow => "no_show",
    };
    if outcome == Outcome::NoShow {
        credits::settle(conn, id, false).await?;
    }
    transition(conn, id, status, status).await
}

/// Moving a booking: a 1:1 to another start, or a class place to another class of the
/// same type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BookingReschedule)]
pub struct RescheduleRequest {
    /// A 1:1's new start (a free slot of the trainer's).
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
    /// A class of the same session type.
    #[serde(default)]
    session_id: Option<Uuid>,
}

/// `POST /api/bookings/{id}/reschedule`
#[utoipa::path(
    post, path = "/api/bookings/{id}/reschedule", tag = "schedule",
    summary = "Move a booking in one step: a 1:1 to another free slot, a class place to another class of its type (the client outside the cancellation window; the session's trainer; admins)",
    params(("id" = Uuid, Path, description = "The booking")),
    request_body = RescheduleRequest,
    responses(
        (status = 200, description = "Moved (a full class: in its line)", body = Booking),
        (status = 404, description = "No such booking the caller may see", body = fitsync_platform::Problem),
        (status = 409, description = "The new time is taken, or the booking cannot move", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn reschedule(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RescheduleRequest>,
) -> Result<Json<Booking>, ApiError> {
    let (b, s, t) = load(&state.pool, id).await?;
    readable(&state, &user, &b).await?;
    let by_client = may_change(&user, &b)?;
    let now = Utc::now();
    if by_client && now > s.starts_at - Duration::hours(t.cancel_window_hours.into()) {
        return Err(ApiError::Conflict(
            "inside the cancellation window: ask your trainer, or cancel".into(),
        ));
    }
    // The class moved to, read before the transaction (no pooled connection is held
    // while waiting for another).
    let target = match req.session_id {
        Some(to) => Some(
            session_row(&state.pool, to, false)
                .await?
                .ok_or_else(|| ApiError::field("session_id", "no such class"))?,
        ),
        None => None,
    };
    let mut tx = state.pool.begin().await?;
    let booking = match (s.kind.as_str(), req.starts_at, target) {
        ("one_on_one", Some(starts_at), None) => {
            let sched = schedule_row(&mut *tx, b.trainer_id, true)
                .await?
                .ok_or(ApiError::NotFound)?;
            let mut s = session_row(&mut *tx, s.id, true)
                .await?
                .ok_or(ApiError::NotFound)?;
            let b = booking_row(&mut *tx, id, true)
                .await?
                .ok_or(ApiError::NotFound)?;
            if b.status != "booked" || s.starts_at <= now {
                return Err(ApiError::Conflict(
                    "only a booked session to come moves".into(),
                ));
            }
            check_slot(&mut tx, &sched, &t, starts_at, Some(s.id), now).await?;
            lock_client(&mut tx, b.client_id).await?;
            let ends_at = starts_at + Duration::minutes(t.duration_min.into());
            let revision = sqlx::query_scalar!(
                "update sessions set period = tstzrange($2, $3), blocked = tstzrange($4, $5),
                        revision = revision + 1
                 where id = $1 returning revision",
                s.id,
                starts_at,
                ends_at,
                starts_at - Duration::minutes(sched.buffer_before_min.into()),
                ends_at + Duration::minutes(sched.buffer_after_min.into())
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(taken)?;
            (s.starts_at, s.ends_at, s.revision) = (starts_at, ends_at, revision);
            sqlx::query!(
                "update bookings set period = tstzrange($2, $3) where id = $1",
                id,
                starts_at,
                ends_at
            )
            .execute(&mut *tx)
            .await
            .map_err(taken)?;
            session_event(&mut tx, &s).await?;
            bump(&mut tx, s.trainer_id, s.room_id).await?;
            transition(&mut tx, id, "booked", "rescheduled").await?
        }
        ("group", None, Some(target)) => {
            let to = target.id;
            if target.session_type_id != s.session_type_id || target.id == s.id {
                return Err(ApiError::field(
                    "session_id",
                    "another class of the same session type",
                ));
            }
            // Both classes locked, in one order for every request: no deadlock.
            let (first, second) = if s.id < to { (s.id, to) } else { (to, s.id) };
            let a = session_row(&mut *tx, first, true)
                .await?
                .ok_or(ApiError::NotFound)?;
            let c = session_row(&mut *tx, second, true)
                .await?
                .ok_or(ApiError::NotFound)?;
            let (mut from_class, mut to_class) = if a.id == s.id { (a, c) } else { (c, a) };
            let b = booking_row(&mut *tx, id, true)
                .await?
                .ok_or(ApiError::NotFound)?;
            if !matches!(b.status.as_str(), "booked" | "waitlisted") || from_class.starts_at <= now
            {
                return Err(ApiError::Conflict(
                    "only a place on a class to come moves".into(),
                ));
            }
            if to_class.status != "scheduled" || to_class.starts_at <= now {
                return Err(ApiError::Conflict(
                    "the class is cancelled or has started".into(),
                ));
            }
            let held = b.status == "booked";
            let place = to_class.booked < to_class.capacity;
            lock_client(&mut tx, b.client_id).await?;
            sqlx::query!(
                "update bookings set session_id = $2, period = tstzrange($3, $4), status = $5,
                        waitlisted_seq = case when $6 then null else nextval('waitlist_arrivals') end
                 where id = $1",
                id,
                to_class.id,
                to_class.starts_at,
                to_class.ends_at,
                if place { "booked" } else { "waitlisted" },
                place
            )
            .execute(&mut *tx)
            .await
            .map_err(taken)?;
            if place {
                places_changed(&mut tx, &mut to_class, 1).await?;
            }
            if held {
                places_changed(&mut tx, &mut from_class, -1).await?;
                promote(&mut tx, &mut from_class, &t).await?;
            }
            let b = booking_row(&mut *tx, id, true)
                .await?
                .ok_or(ApiError::NotFound)?;
            transition(&mut tx, id, &b.status, "rescheduled").await?
        }
        _ => {
            return Err(ApiError::field(
                "body",
                "a 1:1 moves to starts_at, a class place to session_id",
            ))
        }
    };
    tx.commit().await?;
    Ok(Json(booking))
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub attended: u64,
    pub no_shows: u64,
    pub waitlists_closed: u64,
    pub lots_expired: u64,
}

/// Closes what time has settled: places on sessions that ended `grace` ago (checked in:
/// attended; not: no-show, its credit kept), places still in line when their session
/// started (refunded), and credits past their validity (an `expire` entry). Rows are
/// taken with `skip locked`, so sweepers on several replicas share the work.
pub async fn sweep(pool: &sqlx::PgPool, grace: Duration) -> Result<Swept, ApiError> {
    let mut swept = Swept::default();
    let mut tx = pool.begin().await?;
    let ended = sqlx::query!(
        "select b.id, b.status from bookings b join sessions s on s.id = b.session_id
         where b.status in ('booked', 'checked_in') and upper(s.period) + $1::interval < now()
         order by upper(s.period) limit 500 for update of b skip locked",
        sqlx::postgres::types::PgInterval::try_from(grace.to_std().unwrap_or_default())
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("{e}")))?
    )
    .fetch_all(&mut *tx)
    .await?;
    for b in ended {
        if b.status == "checked_in" {
            close_place(&mut tx, b.id, Outcome::Attended).await?;
            swept.attended += 1;
        } else {
            close_place(&mut tx, b.id, Outcome::NoShow).await?;
            swept.no_shows += 1;
        }
    }
    let waiting = sqlx::query_scalar!(
        "select b.id from bookings b join sessions s on s.id = b.session_id
         where b.status = 'waitlisted' and lower(s.period) <= now()
         limit 500 for update of b skip locked"
    )
    .fetch_all(&mut *tx)
    .await?;
    for id in waiting {
        credits::settle(&mut tx, id, true).await?;
        transition(&mut tx, id, "cancelled", "waitlist_closed").await?;
        swept.waitlists_closed += 1;
    }
    let expired = sqlx::query!(
        r#"select p.id, p.client_id, p.owner_id,
                  (select coalesce(sum(amount), 0) from credit_ledger l where l.purchase_id = p.id)::bigint as "remaining!"
           from purchases p
           where p.status = 'paid' and p.expires_at <= now()
             and (select coalesce(sum(amount), 0) from credit_ledger l where l.purchase_id = p.id) > 0
           limit 500 for update of p skip locked"#
    )
    .fetch_all(&mut *tx)
    .await?;
    for lot in expired.into_iter().filter(|l| l.remaining > 0) {
        let amount = i32::try_from(lot.remaining).unwrap_or(i32::MAX);
        credits::append(
            &mut tx,
            lot.client_id,
            lot.owner_id,
            lot.id,
            None,
            credits::Entry::Expire,
            -amount,
        )
        .await?;
        swept.lots_expired += 1;
    }
    tx.commit().await?;
    Ok(swept)
}

/// A 1:1 that happened outside FitSync, as the trainer records it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    client_id: Uuid,
    /// A 1:1 session type the trainer offers.
    session_type_id: Uuid,
    /// In the past (at most a year ago); the session has ended.
    starts_at: DateTime<Utc>,
    outcome: RecordedOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordedOutcome {
    Attended,
    NoShow,
    LateCancelled,
}

/// `POST /api/bookings/record`
#[utoipa::path(
    post, path = "/api/bookings/record", tag = "schedule",
    summary = "Record a 1:1 that already happened (or was missed, or cancelled late) with a client of the trainer's: history from before FitSync, or a session booked by phone (trainers)",
    request_body = RecordRequest,
    responses(
        (status = 201, description = "Recorded", body = Booking),
        (status = 409, description = "The trainer or the client held another session then, or the client has no credits", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn record(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiJson(req): ApiJson<RecordRequest>,
) -> Result<(StatusCode, Json<Booking>), ApiError> {
    user.require(&[Role::Trainer])?;
    let trainer = user.id();
    let t = type_row(&state.pool, req.session_type_id)
        .await?
        .ok_or_else(|| ApiError::field("session_type_id", "no such session type"))?;
    if t.kind != "one_on_one"
        || !crate::access::offers(&state, &t.owner_kind, t.owner_id, trainer).await?
    {
        return Err(ApiError::field(
            "session_type_id",
            "not a 1:1 session type you offer",
        ));
    }
    if !may_book_with(&state, req.client_id, trainer, &t.owner_kind, t.owner_id).await? {
        return Err(ApiError::field("client_id", "not a client of yours"));
    }
    let now = Utc::now();
    let ends_at = req.starts_at + Duration::minutes(t.duration_min.into());
    if ends_at > now || req.starts_at < now - Duration::days(366) {
        return Err(ApiError::field(
            "starts_at",
            "a session that ended, at most a year ago",
        ));
    }
    let mut tx = state.pool.begin().await?;
    let sched = crate::sessions::calendar_of(&mut tx, trainer).await?;
    let mut s = insert_session(
        &mut tx,
        &t,
        trainer,
        req.starts_at,
        (sched.buffer_before_min, sched.buffer_after_min),
        0,
    )
    .await?;
    let b = take_place(&mut tx, req.client_id, &mut s).await?;
    pay(&mut tx, &b, &t).await?;
    let booking = match req.outcome {
        RecordedOutcome::Attended => close_place(&mut tx, b.id, Outcome::Attended).await?,
        RecordedOutcome::NoShow => close_place(&mut tx, b.id, Outcome::NoShow).await?,
        RecordedOutcome::LateCancelled => {
            credits::settle(&mut tx, b.id, false).await?;
            let revision = sqlx::query_scalar!(
                "update sessions set status = 'cancelled', booked = 0, revision = revision + 1
                 where id = $1 returning revision",
                s.id
            )
            .fetch_one(&mut *tx)
            .await?;
            (s.status, s.booked, s.revision) = ("cancelled".into(), 0, revision);
            session_event(&mut tx, &s).await?;
            transition(&mut tx, b.id, "late_cancelled", "late_cancelled").await?
        }
    };
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(booking)))
}

/// A weekly series of 1:1s.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesRequest {
    trainer_id: Uuid,
    /// A 1:1 session type the trainer offers.
    session_type_id: Uuid,
    /// The first occurrence; the others follow weekly at the same local time in the
    /// trainer's time zone.
    starts_at: DateTime<Utc>,
    /// Occurrences in all.
    #[schema(minimum = 2, maximum = 26)]
    weeks: i32,
}

/// `POST /api/bookings/series`
#[utoipa::path(
    post, path = "/api/bookings/series", tag = "schedule",
    summary = "Book a weekly series of 1:1s at the same local time: every occurrence or none (clients, for themselves). Skip one by cancelling it",
    request_body = SeriesRequest,
    responses(
        (status = 201, description = "Booked, in time order", body = Vec<Booking>),
        (status = 409, description = "An occurrence is taken (named), or the credits do not last", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn book_series(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiJson(req): ApiJson<SeriesRequest>,
) -> Result<(StatusCode, Json<Vec<Booking>>), ApiError> {
    let client = user.id();
    user.may_write_client(client)?;
    if !(2..=26).contains(&req.weeks) {
        return Err(ApiError::field("weeks", "2 to 26"));
    }
    let t = type_row(&state.pool, req.session_type_id)
        .await?
        .ok_or_else(|| ApiError::field("session_type_id", "no such session type"))?;
    if t.kind != "one_on_one"
        || !crate::access::offers(&state, &t.owner_kind, t.owner_id, req.trainer_id).await?
    {
        return Err(ApiError::field(
            "session_type_id",
            "not a 1:1 session type this trainer offers",
        ));
    }
    if !may_book_with(&state, client, req.trainer_id, &t.owner_kind, t.owner_id).await? {
        return Err(ApiError::field("trainer_id", "not a trainer you may book"));
    }
    let now = Utc::now();
    let mut tx = state.pool.begin().await?;
    let sched = schedule_row(&mut *tx, req.trainer_id, true)
        .await?
        .ok_or_else(|| ApiError::field("trainer_id", "the trainer has no bookable hours"))?;
    let tz = sched.tz();
    let first = req.starts_at.with_timezone(&tz);
    let series = Uuid::now_v7();
    let mut out = Vec::new();
    for week in 0..req.weeks {
        let date = first.date_naive() + Duration::weeks(week.into());
        let starts_at = crate::slots::instant(tz, date, first.time(), false);
        check_slot(&mut tx, &sched, &t, starts_at, None, now)
            .await
            .map_err(|e| match e {
                ApiError::Conflict(why) => ApiError::Conflict(format!("{date}: {why}")),
                ApiError::Validation(_) => ApiError::field(
                    "starts_at",
                    format!("{date}: not a slot the trainer offers, or outside the booking window"),
                ),
                other => other,
            })?;
        let mut s = insert_session(
            &mut tx,
            &t,
            req.trainer_id,
            starts_at,
            (sched.buffer_before_min, sched.buffer_after_min),
            0,
        )
        .await?;
        let mut b = take_place(&mut tx, client, &mut s).await?;
        pay(&mut tx, &b, &t).await?;
        sqlx::query!(
            "update bookings set series_id = $2 where id = $1",
            b.id,
            series
        )
        .execute(&mut *tx)
        .await?;
        b.series_id = Some(series);
        let booking = view(&mut tx, &b, &s, &t).await?;
        booking_event(&mut tx, &booking, "booked").await?;
        out.push(booking);
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// `POST /api/bookings/series/{id}/cancel`
#[utoipa::path(
    post, path = "/api/bookings/series/{id}/cancel", tag = "schedule",
    summary = "Cancel what is still to come of a weekly series (the client; the trainer, never late; admins); what is already cancelled or past stays as it is",
    params(("id" = Uuid, Path, description = "The series")),
    responses(
        (status = 200, description = "The occurrences this cancelled (none if nothing was left)", body = Vec<Booking>),
        (status = 404, description = "No such series the caller may see", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn cancel_series(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<Booking>>, ApiError> {
    let occurrences = sqlx::query!(
        r#"select b.id, b.session_id, b.status, lower(b.period) as "starts_at!"
           from bookings b where b.series_id = $1 order by lower(b.period)"#,
        id
    )
    .fetch_all(&state.pool)
    .await?;
    let first = occurrences.first().ok_or(ApiError::NotFound)?;
    let (b, _, t) = load(&state.pool, first.id).await?;
    readable(&state, &user, &b).await?;
    let by_client = may_change(&user, &b)?;
    let now = Utc::now();
    let mut tx = state.pool.begin().await?;
    let mut out = Vec::new();
    for o in occurrences
        .iter()
        .filter(|o| matches!(o.status.as_str(), "booked" | "waitlisted") && o.starts_at > now)
    {
        out.push(cancel_in(&mut tx, o.session_id, o.id, &t, by_client).await?);
    }
    tx.commit().await?;
    Ok(Json(out))
}
