//! A trainer's bookable hours (`/api/availability/{trainer_id}`) and the free slots
//! derived from them (`/api/availability/{trainer_id}/slots`).

use std::sync::LazyLock;

use axum::{extract::State, Json};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use fitsync_events::{
    AvailabilityChanged, CloudEvent, DateException, Topic, WeeklyHours, AVAILABILITY_CHANGED_V1,
};
use fitsync_platform::{outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError};
use prometheus::{register_int_counter_vec, IntCounterVec};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    access::{clock, may_manage_trainer, may_see_trainer, offers},
    sessions::{type_row, TypeRow},
    slots::{free_slots, Constraints, Exception, ExceptionKind, Hours, Timetable},
    ScheduleState, SlotCache, SOURCE,
};

/// Weekly hours on one day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHoursDto {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    #[schema(minimum = 1, maximum = 7)]
    weekday: u8,
    /// Local time `HH:MM`.
    #[schema(example = "09:00")]
    starts: String,
    /// Local time `HH:MM`, after `starts`.
    #[schema(example = "17:00")]
    ends: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKindDto {
    /// Not available: the whole day, or the hours given.
    Off,
    /// Available on hours beside the weekly ones.
    Extra,
}

/// A date that differs from the weekly hours.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionDto {
    date: NaiveDate,
    kind: ExceptionKindDto,
    /// Local `HH:MM`; absent with `ends` for a whole day off.
    #[serde(default)]
    starts: Option<String>,
    #[serde(default)]
    ends: Option<String>,
}

/// A trainer's bookable hours, as they should stand (the whole of them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityRequest {
    /// The trainer's IANA time zone; weekly hours and dates are local to it.
    #[schema(example = "Europe/Berlin")]
    time_zone: String,
    #[schema(max_items = 70)]
    weekly: Vec<WeeklyHoursDto>,
    #[serde(default)]
    #[schema(max_items = 400)]
    exceptions: Vec<ExceptionDto>,
    /// Kept free before each session, minutes.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 240)]
    buffer_before_min: i32,
    /// Kept free after each session, minutes.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 240)]
    buffer_after_min: i32,
    /// How long before a session it may be booked at the latest, minutes.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 43200)]
    min_notice_min: i32,
    /// How far ahead sessions may be booked, days (default 60).
    #[serde(default = "default_horizon")]
    #[schema(minimum = 1, maximum = 730)]
    horizon_days: i32,
    /// At most this many sessions a (local) day.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    max_per_day: Option<i32>,
    /// At most this many sessions an ISO week.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 500)]
    max_per_week: Option<i32>,
    /// Slots start every this many minutes from the opening time (default 30).
    #[serde(default = "default_step")]
    #[schema(minimum = 5, maximum = 240)]
    slot_step_min: i32,
}

fn default_horizon() -> i32 {
    60
}

fn default_step() -> i32 {
    30
}

/// A trainer's bookable hours.
#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    trainer_id: Uuid,
    time_zone: String,
    weekly: Vec<WeeklyHoursDto>,
    exceptions: Vec<ExceptionDto>,
    buffer_before_min: i32,
    buffer_after_min: i32,
    min_notice_min: i32,
    horizon_days: i32,
    max_per_day: Option<i32>,
    max_per_week: Option<i32>,
    slot_step_min: i32,
    /// 1 when first set; each change adds one.
    revision: i32,
    updated_at: DateTime<Utc>,
}

/// A trainer's schedule row (locked by every booking transaction for the trainer).
#[derive(Debug, Clone)]
pub(crate) struct ScheduleRow {
    pub trainer_id: Uuid,
    pub time_zone: String,
    pub buffer_before_min: i32,
    pub buffer_after_min: i32,
    pub min_notice_min: i32,
    pub horizon_days: i32,
    pub max_per_day: Option<i32>,
    pub max_per_week: Option<i32>,
    pub slot_step_min: i32,
    pub generation: i64,
    pub revision: i32,
    pub updated_at: DateTime<Utc>,
}

impl ScheduleRow {
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(Tz::UTC)
    }

    /// A slot starting at `starts` may be booked now: after the minimum notice, within
    /// the horizon.
    pub fn bookable(&self, now: DateTime<Utc>, starts: DateTime<Utc>) -> bool {
        starts >= now + Duration::minutes(self.min_notice_min.into())
            && starts <= now + Duration::days(self.horizon_days.into())
    }
}

/// The trainer's schedule row; with `lock`, held until the transaction ends.
pub(crate) async fn schedule_row(
    db: impl sqlx::PgExecutor<'_>,
    trainer: Uuid,
    lock: bool,
) -> Result<Option<ScheduleRow>, ApiError> {
    let row = if lock {
        sqlx::query_as!(
            ScheduleRow,
            "select trainer_id, time_zone, buffer_before_min, buffer_after_min, min_notice_min,
                    horizon_days, max_per_day, max_per_week, slot_step_min, generation, revision, updated_at
             from trainer_schedules where trainer_id = $1 for update",
            trainer
        )
        .fetch_optional(db)
        .await?
    } else {
        sqlx::query_as!(
            ScheduleRow,
            "select trainer_id, time_zone, buffer_before_min, buffer_after_min, min_notice_min,
                    horizon_days, max_per_day, max_per_week, slot_step_min, generation, revision, updated_at
             from trainer_schedules where trainer_id = $1",
            trainer
        )
        .fetch_optional(db)
        .await?
    };
    Ok(row)
}

fn hhmm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// The trainer's weekly hours and exceptions, as stored and as a timetable.
async fn hours_of(
    conn: &mut PgConnection,
    s: &ScheduleRow,
) -> Result<(Vec<WeeklyHoursDto>, Vec<ExceptionDto>, Timetable), ApiError> {
    let weekly = sqlx::query!(
        "select weekday, starts, ends from availability_rules where trainer_id = $1
         order by weekday, starts",
        s.trainer_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let exceptions = sqlx::query!(
        r#"select date, kind, starts, ends from availability_exceptions where trainer_id = $1
           order by date, starts nulls first"#,
        s.trainer_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let table = Timetable {
        tz: s.tz(),
        weekly: weekly
            .iter()
            .map(|r| Hours {
                weekday: r.weekday as u8,
                starts: r.starts,
                ends: r.ends,
            })
            .collect(),
        exceptions: exceptions
            .iter()
            .map(|e| Exception {
                date: e.date,
                kind: if e.kind == "off" {
                    ExceptionKind::Off
                } else {
                    ExceptionKind::Extra
                },
                times: e.starts.zip(e.ends),
            })
            .collect(),
    };
    Ok((
        weekly
            .into_iter()
            .map(|r| WeeklyHoursDto {
                weekday: r.weekday as u8,
                starts: hhmm(r.starts),
                ends: hhmm(r.ends),
            })
            .collect(),
        exceptions
            .into_iter()
            .map(|e| ExceptionDto {
                date: e.date,
                kind: if e.kind == "off" {
                    ExceptionKindDto::Off
                } else {
                    ExceptionKindDto::Extra
                },
                starts: e.starts.map(hhmm),
                ends: e.ends.map(hhmm),
            })
            .collect(),
        table,
    ))
}

/// The trainer's timetable and what constrains slots of a session type over the local
/// dates `from..=to` (leaving out a session being `moving`, which frees its own time).
pub(crate) async fn constraints(
    conn: &mut PgConnection,
    s: &ScheduleRow,
    t: &TypeRow,
    (from, to): (NaiveDate, NaiveDate),
    moving: Option<Uuid>,
) -> Result<(Timetable, Constraints), ApiError> {
    let (_, _, table) = hours_of(conn, s).await?;
    let tz = s.tz();
    // Whole ISO weeks around the dates, for the weekly limit.
    let window = (
        crate::slots::instant(tz, from - Duration::days(8), NaiveTime::MIN, false),
        crate::slots::instant(tz, to + Duration::days(9), NaiveTime::MIN, false),
    );
    let busy = sqlx::query!(
        r#"select lower(period) as "starts!", lower(blocked) as "from!", upper(blocked) as "to!"
           from sessions
           where trainer_id = $1 and status = 'scheduled' and blocked && tstzrange($2, $3)
             and ($4::uuid is null or id <> $4)"#,
        s.trainer_id,
        window.0,
        window.1,
        moving
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut c = Constraints {
        duration: Duration::minutes(t.duration_min.into()),
        step: Duration::minutes(s.slot_step_min.into()),
        buffer_before: Duration::minutes(s.buffer_before_min.into()),
        buffer_after: Duration::minutes(s.buffer_after_min.into()),
        max_per_day: s.max_per_day.map(|m| m.unsigned_abs()),
        max_per_week: s.max_per_week.map(|m| m.unsigned_abs()),
        trainer_busy: busy
            .into_iter()
            .map(|b| (b.starts, (b.from, b.to)))
            .collect(),
        room: None,
    };
    if let Some(room) = t.room_id {
        let busy = sqlx::query!(
            r#"select lower(period) as "from!", upper(period) as "to!" from sessions
               where room_id = $1 and status = 'scheduled' and period && tstzrange($2, $3)
                 and ($4::uuid is null or id <> $4)"#,
            room,
            window.0,
            window.1,
            moving
        )
        .fetch_all(&mut *conn)
        .await?;
        c.room = Some((
            crate::sessions::room_timetable(conn, room).await?,
            busy.into_iter().map(|b| (b.from, b.to)).collect(),
        ));
    }
    Ok((table, c))
}

async fn to_availability(
    conn: &mut PgConnection,
    s: ScheduleRow,
) -> Result<Availability, ApiError> {
    let (weekly, exceptions, _) = hours_of(conn, &s).await?;
    Ok(Availability {
        trainer_id: s.trainer_id,
        time_zone: s.time_zone,
        weekly,
        exceptions,
        buffer_before_min: s.buffer_before_min,
        buffer_after_min: s.buffer_after_min,
        min_notice_min: s.min_notice_min,
        horizon_days: s.horizon_days,
        max_per_day: s.max_per_day,
        max_per_week: s.max_per_week,
        slot_step_min: s.slot_step_min,
        revision: s.revision,
        updated_at: s.updated_at,
    })
}

/// Checks a request whole; every error with its path.
fn check(req: &AvailabilityRequest) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if req.time_zone.parse::<Tz>().is_err() {
        errors.push(FieldError::new(
            "time_zone",
            "an IANA time zone such as Europe/Berlin",
        ));
    }
    if req.weekly.len() > 70 {
        errors.push(FieldError::new("weekly", "at most 70 entries"));
    }
    if req.exceptions.len() > 400 {
        errors.push(FieldError::new("exceptions", "at most 400 entries"));
    }
    let span = |at: &str, starts: &str, ends: &str, errors: &mut Vec<FieldError>| match (
        clock(starts),
        clock(ends),
    ) {
        (Some(a), Some(b)) if a < b => {}
        (Some(_), Some(_)) => errors.push(FieldError::new(
            format!("{at}.ends"),
            "must be after starts",
        )),
        (a, b) => {
            if a.is_none() {
                errors.push(FieldError::new(format!("{at}.starts"), "a time HH:MM"));
            }
            if b.is_none() {
                errors.push(FieldError::new(format!("{at}.ends"), "a time HH:MM"));
            }
        }
    };
    for (i, h) in req.weekly.iter().enumerate() {
        let at = format!("weekly[{i}]");
        if !(1..=7).contains(&h.weekday) {
            errors.push(FieldError::new(
                format!("{at}.weekday"),
                "1 (Monday) to 7 (Sunday)",
            ));
        }
        span(&at, &h.starts, &h.ends, &mut errors);
    }
    for (i, e) in req.exceptions.iter().enumerate() {
        let at = format!("exceptions[{i}]");
        match (&e.starts, &e.ends) {
            (Some(a), Some(b)) => span(&at, a, b, &mut errors),
            (None, None) if e.kind == ExceptionKindDto::Off => {}
            (None, None) => errors.push(FieldError::new(at, "extra hours need starts and ends")),
            _ => errors.push(FieldError::new(at, "give both starts and ends, or neither")),
        }
    }
    let mut bounded = |field: &str, value: i32, min: i32, max: i32| {
        if !(min..=max).contains(&value) {
            errors.push(FieldError::new(field, format!("{min} to {max}")));
        }
    };
    bounded("buffer_before_min", req.buffer_before_min, 0, 240);
    bounded("buffer_after_min", req.buffer_after_min, 0, 240);
    bounded("min_notice_min", req.min_notice_min, 0, 43200);
    bounded("horizon_days", req.horizon_days, 1, 730);
    bounded("slot_step_min", req.slot_step_min, 5, 240);
    if let Some(m) = req.max_per_day {
        bounded("max_per_day", m, 1, 100);
    }
    if let Some(m) = req.max_per_week {
        bounded("max_per_week", m, 1, 500);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// `PUT /api/availability/{trainer_id}`
#[utoipa::path(
    put, path = "/api/availability/{trainer_id}", tag = "schedule",
    summary = "Set a trainer's bookable hours: weekly hours in their time zone, date exceptions, buffers, notice, horizon and limits (the trainer, their gym, admins)",
    params(("trainer_id" = Uuid, Path, description = "The trainer")),
    request_body = AvailabilityRequest,
    responses((status = 200, description = "Saved", body = Availability)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn put(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(trainer): ApiPath<Uuid>,
    ApiJson(req): ApiJson<AvailabilityRequest>,
) -> Result<Json<Availability>, ApiError> {
    may_manage_trainer(&state, &user, trainer).await?;
    check(&req)?;
    let mut tx = state.pool.begin().await?;
    let s = sqlx::query_as!(
        ScheduleRow,
        "insert into trainer_schedules as t (trainer_id, time_zone, buffer_before_min, buffer_after_min,
                min_notice_min, horizon_days, max_per_day, max_per_week, slot_step_min)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (trainer_id) do update set time_zone = excluded.time_zone,
                buffer_before_min = excluded.buffer_before_min, buffer_after_min = excluded.buffer_after_min,
                min_notice_min = excluded.min_notice_min, horizon_days = excluded.horizon_days,
                max_per_day = excluded.max_per_day, max_per_week = excluded.max_per_week,
                slot_step_min = excluded.slot_step_min, generation = t.generation + 1,
                revision = t.revision + 1, updated_at = now()
         returning trainer_id, time_zone, buffer_before_min, buffer_after_min, min_notice_min,
                   horizon_days, max_per_day, max_per_week, slot_step_min, generation, revision, updated_at",
        trainer,
        req.time_zone,
        req.buffer_before_min,
        req.buffer_after_min,
        req.min_notice_min,
        req.horizon_days,
        req.max_per_day,
        req.max_per_week,
        req.slot_step_min
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "delete from availability_rules where trainer_id = $1",
        trainer
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "delete from availability_exceptions where trainer_id = $1",
        trainer
    )
    .execute(&mut *tx)
    .await?;
    for h in &req.weekly {
        sqlx::query!(
            "insert into availability_rules (trainer_id, weekday, starts, ends) values ($1, $2, $3, $4)",
            trainer,
            i16::from(h.weekday),
            clock(&h.starts),
            clock(&h.ends)
        )
        .execute(&mut *tx)
        .await?;
    }
    for e in &req.exceptions {
        sqlx::query!(
            "insert into availability_exceptions (trainer_id, date, kind, starts, ends)
             values ($1, $2, $3, $4, $5)",
            trainer,
            e.date,
            if e.kind == ExceptionKindDto::Off {
                "off"
            } else {
                "extra"
            },
            e.starts.as_deref().and_then(clock),
            e.ends.as_deref().and_then(clock)
        )
        .execute(&mut *tx)
        .await?;
    }
    let saved = to_availability(&mut tx, s).await?;
    let event = CloudEvent::new(
        SOURCE,
        AVAILABILITY_CHANGED_V1,
        trainer.to_string(),
        AvailabilityChanged {
            trainer_id: trainer,
            time_zone: saved.time_zone.clone(),
            weekly: saved
                .weekly
                .iter()
                .map(|h| WeeklyHours {
                    weekday: h.weekday,
                    starts: h.starts.clone(),
                    ends: h.ends.clone(),
                })
                .collect(),
            exceptions: saved
                .exceptions
                .iter()
                .map(|e| DateException {
                    date: e.date,
                    kind: if e.kind == ExceptionKindDto::Off {
                        "off"
                    } else {
                        "extra"
                    }
                    .to_owned(),
                    starts: e.starts.clone(),
                    ends: e.ends.clone(),
                })
                .collect(),
            buffer_before_min: saved.buffer_before_min,
            buffer_after_min: saved.buffer_after_min,
            min_notice_min: saved.min_notice_min,
            horizon_days: saved.horizon_days,
            max_per_day: saved.max_per_day,
            max_per_week: saved.max_per_week,
            revision: saved.revision,
        },
    );
    outbox::enqueue(&mut tx, Topic::Schedule, &event).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// `GET /api/availability/{trainer_id}`
#[utoipa::path(
    get, path = "/api/availability/{trainer_id}", tag = "schedule",
    summary = "A trainer's bookable hours (the trainer, their clients, their gyms, admins)",
    params(("trainer_id" = Uuid, Path, description = "The trainer")),
    responses((status = 200, description = "The hours", body = Availability), (status = 404, description = "No hours set", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn get(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(trainer): ApiPath<Uuid>,
) -> Result<Json<Availability>, ApiError> {
    may_see_trainer(&state, &user, trainer).await?;
    let mut conn = state.pool.acquire().await?;
    let s = schedule_row(&mut *conn, trainer, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(to_availability(&mut conn, s).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    /// A 1:1 session type the trainer offers (its duration and room apply).
    session_type_id: Uuid,
    /// First local date (the trainer's time zone; default: today).
    from: Option<NaiveDate>,
    /// Last local date, at most 62 days after `from` (default: 13 days after).
    to: Option<NaiveDate>,
}

/// A free slot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = FreeSlot)]
pub struct Slot {
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    /// The start in the trainer's time zone, with its offset.
    local_start: String,
}

static SLOT_CACHE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "fitsync_schedule_slot_cache_total",
        "Free-slot queries answered from the Redis cache (hit) or computed (miss)",
        &["result"]
    )
    .expect("metric registers once")
});

impl SlotCache {
    async fn get(&self, key: &str) -> Option<Vec<DateTime<Utc>>> {
        let mut redis = self.redis.clone();
        match redis.get::<_, Option<String>>(key).await {
            Ok(Some(json)) => serde_json::from_str(&json).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "slot cache unavailable; computing");
                None
            }
        }
    }

    async fn put(&self, key: &str, slots: &[DateTime<Utc>]) {
        let mut redis = self.redis.clone();
        let json = serde_json::to_string(slots).unwrap_or_default();
        if let Err(e) = redis.set_ex::<_, _, ()>(key, json, self.ttl_secs).await {
            tracing::warn!(error = %e, "slot cache unavailable; not stored");
        }
    }
}

/// `GET /api/availability/{trainer_id}/slots`
#[utoipa::path(
    get, path = "/api/availability/{trainer_id}/slots", tag = "schedule",
    summary = "Free 1:1 slots of a session type with a trainer over a date range (whoever may see the trainer's hours)",
    params(("trainer_id" = Uuid, Path, description = "The trainer"), SlotsQuery),
    responses((status = 200, description = "Free slots in time order", body = Vec<Slot>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn slots(
    State(state): State<ScheduleState>,
    user: AuthUser,
    ApiPath(trainer): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<SlotsQuery>,
) -> Result<Json<Vec<Slot>>, ApiError> {
    may_see_trainer(&state, &user, trainer).await?;
    let t = type_row(&state.pool, q.session_type_id)
        .await?
        .ok_or_else(|| ApiError::field("session_type_id", "no such session type"))?;
    if t.kind != "one_on_one" || !offers(&state, &t.owner_kind, t.owner_id, trainer).await? {
        return Err(ApiError::field(
            "session_type_id",
            "not a 1:1 session type this trainer offers (classes are booked by session)",
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let Some(s) = schedule_row(&mut *conn, trainer, false).await? else {
        return Ok(Json(Vec::new()));
    };
    let tz = s.tz();
    let now = Utc::now();
    let from = q
        .from
        .unwrap_or_else(|| now.with_timezone(&tz).date_naive());
    let to = q.to.unwrap_or(from + Duration::days(13));
    if to < from || to - from > Duration::days(62) {
        return Err(ApiError::field(
            "to",
            "on or after from, at most 62 days after it",
        ));
    }
    // The generations are read before anything the answer is computed from, so what is
    // stored under them is at least as new as they are.
    let room_generation = match t.room_id {
        Some(room) => {
            sqlx::query_scalar!("select generation from rooms where id = $1", room)
                .fetch_one(&mut *conn)
                .await?
        }
        None => 0,
    };
    let key = format!(
        "{}schedule:slots:{trainer}:{}:{from}:{to}:{}:{room_generation}",
        state.cache.prefix, t.id, s.generation
    );
    let starts = match state.cache.get(&key).await {
        Some(starts) => {
            SLOT_CACHE.with_label_values(&["hit"]).inc();
            starts
        }
        None => {
            SLOT_CACHE.with_label_values(&["miss"]).inc();
            let (table, c) = constraints(&mut conn, &s, &t, (from, to), None).await?;
            let starts = free_slots(&table, &c, from, to);
            state.cache.put(&key, &starts).await;
            starts
        }
    };
    drop(conn);
    let duration = Duration::minutes(t.duration_min.into());
    Ok(Json(
        starts
            .into_iter()
            .filter(|start| s.bookable(now, *start))
            .map(|start| Slot {
                starts_at: start,
                ends_at: start + duration,
                local_start: start.with_timezone(&tz).to_rfc3339(),
            })
            .collect(),
    ))
}
