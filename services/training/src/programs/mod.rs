//! Programs (`/api/programs/*`): templates a trainer or a gym writes and versions,
//! assigned to clients as snapshots that become dated planned workouts in the client's
//! time zone, whose next loads follow the progression rules from what the client did.

pub mod document;

use std::collections::{BTreeSet, HashMap};

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use fitsync_events::{
    CloudEvent, PlanChanged, PlannedWorkout, ProgramSaved, Topic, PLAN_CHANGED_V1, PROGRAM_SAVED_V1,
};
use fitsync_platform::{
    auth::{Grants, Relationships, Role},
    outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError,
};
use serde::{Deserialize, Serialize};
use sqlx::{types::Json as DbJson, PgConnection};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{exercises, handlers::SOURCE, TrainingState};
use document::{DoneSet, Load, ProgramDocument, Slot};

/// A program template at its current version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Template {
    id: Uuid,
    /// `trainer` or `gym`.
    owner_kind: String,
    owner_id: Uuid,
    /// The gym whose trainers may see and assign it (absent: private).
    shared_gym_id: Option<Uuid>,
    version: i32,
    document: ProgramDocument,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

struct TemplateRow {
    id: Uuid,
    owner_kind: String,
    owner_id: Uuid,
    shared_gym_id: Option<Uuid>,
    version: i32,
    document: DbJson<ProgramDocument>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<TemplateRow> for Template {
    fn from(r: TemplateRow) -> Self {
        Template {
            id: r.id,
            owner_kind: r.owner_kind,
            owner_id: r.owner_id,
            shared_gym_id: r.shared_gym_id,
            version: r.version,
            document: r.document.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A template as written: the program, and optionally the gym to share it in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    document: ProgramDocument,
    /// Share with the trainers of this gym (one the caller belongs to).
    #[serde(default)]
    shared_gym_id: Option<Uuid>,
}

/// Who the caller writes templates as: a trainer for themselves, a gym account for its gym.
pub(crate) fn author(user: &AuthUser) -> Result<(&'static str, Uuid), ApiError> {
    match (user.role(), user.claims().gym) {
        (Role::Trainer, _) => Ok(("trainer", user.id())),
        (Role::Gym, Some(gym)) => Ok(("gym", gym)),
        (Role::Gym, None) => Err(ApiError::ForbiddenBecause("open a gym first")),
        _ => Err(ApiError::Forbidden),
    }
}

/// The owners and gyms whose templates the caller sees (`None`: all): a trainer's own
/// and those shared in their gyms, a gym's. Clients see no templates — the snapshot in
/// their assignment is theirs; the template stays its author's.
pub(crate) async fn scope(
    state: &TrainingState,
    user: &AuthUser,
) -> Result<Option<Vec<Uuid>>, ApiError> {
    match user.role() {
        Role::Admin | Role::Service => return Ok(None),
        Role::Client => return Ok(Some(Vec::new())),
        Role::Trainer | Role::Gym => {}
    }
    let mut ids = vec![user.id()];
    ids.extend(user.claims().gym);
    ids.extend(
        Grants::new(&state.pool, &state.auth)
            .grantees(user.id())
            .await?,
    );
    Ok(Some(ids))
}

async fn fetch_template(
    conn: &mut PgConnection,
    id: Uuid,
    scope: Option<&[Uuid]>,
) -> Result<TemplateRow, ApiError> {
    sqlx::query_as!(
        TemplateRow,
        r#"select id, owner_kind, owner_id, shared_gym_id, version,
                  document as "document: DbJson<ProgramDocument>", created_at, updated_at
           from program_templates
           where id = $1 and ($2::uuid[] is null or owner_id = any($2) or shared_gym_id = any($2))"#,
        id,
        scope as Option<&[Uuid]>
    )
    .fetch_optional(conn)
    .await?
    .ok_or(ApiError::NotFound)
}

/// Checks the document, resolves every slot's exercise to a library slug the author may
/// use, and checks the gym it is shared in is the author's.
async fn prepare(
    state: &TrainingState,
    conn: &mut PgConnection,
    user: &AuthUser,
    req: TemplateRequest,
) -> Result<(ProgramDocument, Option<Uuid>), ApiError> {
    let mut doc = req.document;
    let mut errors = doc.check();
    doc.name = doc.name.trim().to_owned();
    for (at, slot) in doc.slots_mut() {
        let named = slot.exercise.clone();
        match exercises::resolve_for(state, conn, &named, user).await? {
            Some(slug) => slot.exercise = slug,
            None => errors.push(FieldError {
                field: format!("{at}.exercise"),
                message: format!("no exercise {named:?} in the library"),
            }),
        }
    }
    if let Some(gym) = req.shared_gym_id {
        let mine = user.claims().gym == Some(gym)
            || Grants::new(&state.pool, &state.auth)
                .in_gym(gym, user.id())
                .await?;
        if !mine {
            errors.push(FieldError {
                field: "shared_gym_id".into(),
                message: "not a gym you belong to".into(),
            });
        }
    }
    if errors.is_empty() {
        Ok((doc, req.shared_gym_id))
    } else {
        Err(ApiError::Validation(errors))
    }
}

async fn saved_event(conn: &mut PgConnection, t: &TemplateRow) -> Result<(), ApiError> {
    let doc = &t.document.0;
    let exercises: BTreeSet<String> = doc
        .weeks
        .iter()
        .flat_map(|w| &w.days)
        .flat_map(|d| &d.slots)
        .map(|s| s.exercise.clone())
        .collect();
    let event = CloudEvent::new(
        SOURCE,
        PROGRAM_SAVED_V1,
        t.owner_id.to_string(),
        ProgramSaved {
            template_id: t.id,
            owner_kind: t.owner_kind.clone(),
            owner_id: t.owner_id,
            shared_gym_id: t.shared_gym_id,
            version: t.version,
            name: doc.name.clone(),
            weeks: i32::try_from(doc.weeks.len()).unwrap_or(i32::MAX),
            slots: i32::try_from(doc.slot_count()).unwrap_or(i32::MAX),
            exercises: exercises.into_iter().collect(),
        },
    );
    outbox::enqueue(conn, Topic::Training, &event).await?;
    Ok(())
}

async fn insert_template(
    conn: &mut PgConnection,
    user: &AuthUser,
    (kind, owner): (&str, Uuid),
    doc: ProgramDocument,
    shared: Option<Uuid>,
) -> Result<TemplateRow, ApiError> {
    let id = Uuid::now_v7();
    let row = sqlx::query_as!(
        TemplateRow,
        r#"insert into program_templates (id, owner_kind, owner_id, shared_gym_id, name, version, document, created_by)
           values ($1, $2, $3, $4, $5, 1, $6, $7)
           returning id, owner_kind, owner_id, shared_gym_id, version,
                     document as "document: DbJson<ProgramDocument>", created_at, updated_at"#,
        id,
        kind,
        owner,
        shared,
        doc.name,
        DbJson(&doc) as _,
        user.id()
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "insert into program_versions (template_id, version, document, saved_by) values ($1, 1, $2, $3)",
        id,
        DbJson(&doc) as _,
        user.id()
    )
    .execute(&mut *conn)
    .await?;
    saved_event(conn, &row).await?;
    Ok(row)
}

/// `POST /api/programs`
#[utoipa::path(
    post, path = "/api/programs", tag = "programs",
    summary = "Write a program template (trainers for themselves, gym accounts for their gym)",
    request_body = TemplateRequest,
    responses((status = 201, description = "Saved as version 1", body = Template)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn create(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiJson(req): ApiJson<TemplateRequest>,
) -> Result<(StatusCode, Json<Template>), ApiError> {
    let owner = author(&user)?;
    let mut tx = state.pool.begin().await?;
    let (doc, shared) = prepare(&state, &mut tx, &user, req).await?;
    let row = insert_template(&mut tx, &user, owner, doc, shared).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// A template in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateSummary {
    id: Uuid,
    name: String,
    owner_kind: String,
    owner_id: Uuid,
    shared_gym_id: Option<Uuid>,
    version: i32,
    updated_at: DateTime<Utc>,
}

/// `GET /api/programs`
#[utoipa::path(
    get, path = "/api/programs", tag = "programs",
    summary = "The templates the caller may see: their own, their gym's, those shared in their gyms",
    responses((status = 200, description = "Newest first", body = Vec<TemplateSummary>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list(
    State(state): State<TrainingState>,
    user: AuthUser,
) -> Result<Json<Vec<TemplateSummary>>, ApiError> {
    let scope = scope(&state, &user).await?;
    let rows = sqlx::query_as!(
        TemplateSummary,
        "select id, name, owner_kind, owner_id, shared_gym_id, version, updated_at
         from program_templates
         where $1::uuid[] is null or owner_id = any($1) or shared_gym_id = any($1)
         order by updated_at desc, id limit 500",
        scope.as_deref() as Option<&[Uuid]>
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// `GET /api/programs/{id}`
#[utoipa::path(
    get, path = "/api/programs/{id}", tag = "programs",
    summary = "One template at its current version",
    params(("id" = Uuid, Path, description = "The template")),
    responses((status = 200, description = "The template", body = Template), (status = 404, description = "No such template the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn get(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Template>, ApiError> {
    let scope = scope(&state, &user).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        fetch_template(&mut conn, id, scope.as_deref())
            .await?
            .into(),
    ))
}

/// `PUT /api/programs/{id}`: a new version; assignments keep the version they snapshot.
#[utoipa::path(
    put, path = "/api/programs/{id}", tag = "programs",
    summary = "Save a new version of a template (its owner)",
    params(("id" = Uuid, Path, description = "The template")),
    request_body = TemplateRequest,
    responses((status = 200, description = "The new version", body = Template), (status = 404, description = "No such template the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn update(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<TemplateRequest>,
) -> Result<Json<Template>, ApiError> {
    let scope = scope(&state, &user).await?;
    let mut tx = state.pool.begin().await?;
    let current = fetch_template(&mut tx, id, scope.as_deref()).await?;
    if author(&user).map(|(_, owner)| owner).ok() != Some(current.owner_id) {
        return Err(ApiError::Forbidden);
    }
    let (doc, shared) = prepare(&state, &mut tx, &user, req).await?;
    let row = sqlx::query_as!(
        TemplateRow,
        r#"update program_templates
           set version = version + 1, document = $2, name = $3, shared_gym_id = $4, updated_at = now()
           where id = $1
           returning id, owner_kind, owner_id, shared_gym_id, version,
                     document as "document: DbJson<ProgramDocument>", created_at, updated_at"#,
        id,
        DbJson(&doc) as _,
        doc.name,
        shared
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into program_versions (template_id, version, document, saved_by) values ($1, $2, $3, $4)",
        id,
        row.version,
        DbJson(&doc) as _,
        user.id()
    )
    .execute(&mut *tx)
    .await?;
    saved_event(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(Json(row.into()))
}

/// `POST /api/programs/{id}/clone`: a private copy for the caller, at version 1.
#[utoipa::path(
    post, path = "/api/programs/{id}/clone", tag = "programs",
    summary = "Copy a template the caller may see into one of their own",
    params(("id" = Uuid, Path, description = "The template")),
    responses((status = 201, description = "The copy", body = Template), (status = 404, description = "No such template the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn clone(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<Template>), ApiError> {
    let owner = author(&user)?;
    let scope = scope(&state, &user).await?;
    let mut tx = state.pool.begin().await?;
    let source = fetch_template(&mut tx, id, scope.as_deref()).await?;
    let mut doc = source.document.0;
    let name = format!("{} (copy)", doc.name);
    doc.name = name.chars().take(120).collect();
    let row = insert_template(&mut tx, &user, owner, doc, None).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// Assigning a template to a client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    client_id: Uuid,
    /// The first day of week 1, in the client's time zone.
    start_date: NaiveDate,
    /// The client's IANA time zone, e.g. `Europe/Berlin`.
    #[schema(example = "Europe/Berlin", max_length = 64)]
    time_zone: String,
}

/// A client's program: the snapshot it follows and its planned workouts.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assignment {
    id: Uuid,
    template_id: Uuid,
    template_version: i32,
    client_id: Uuid,
    assigned_by: Uuid,
    start_date: NaiveDate,
    time_zone: String,
    /// `active`, `paused` or `ended`.
    status: String,
    revision: i32,
    document: ProgramDocument,
    planned: Vec<Planned>,
}

/// One planned workout.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Planned {
    id: Uuid,
    date: NaiveDate,
    /// 1-based week and day of the program.
    week: i32,
    day: i32,
    name: String,
    /// The start of that day in the client's time zone.
    starts_at: DateTime<Utc>,
}

struct AssignmentRow {
    id: Uuid,
    template_id: Uuid,
    template_version: i32,
    client_id: Uuid,
    assigned_by: Uuid,
    start_date: NaiveDate,
    time_zone: String,
    status: String,
    revision: i32,
    document: DbJson<ProgramDocument>,
}

pub(crate) fn time_zone(raw: &str) -> Result<Tz, ApiError> {
    raw.parse::<Tz>()
        .map_err(|_| ApiError::field("time_zone", "an IANA time zone such as Europe/Berlin"))
}

/// The instant a local day starts (the first valid local time, should midnight fall in
/// a daylight-saving gap).
fn start_of(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    (0..3)
        .find_map(|h| {
            tz.from_local_datetime(&date.and_hms_opt(h, 0, 0)?)
                .earliest()
        })
        .map_or_else(
            || date.and_time(chrono::NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// The client's local date now.
/// A start date a plan may have: within a year of the client's today.
pub(crate) fn within_a_year(start: NaiveDate, today: NaiveDate) -> Result<(), ApiError> {
    if start < today - chrono::Days::new(366) || start > today + chrono::Days::new(366) {
        Err(ApiError::field("start_date", "within a year of today"))
    } else {
        Ok(())
    }
}

/// Ok if `user` may read `client`'s data; 404 (not 403) otherwise, so that ids of other
/// people's things reveal nothing.
pub(crate) async fn hidden_unless_readable(
    state: &TrainingState,
    user: &AuthUser,
    client: Uuid,
) -> Result<(), ApiError> {
    match user
        .may_read_client(client, &Grants::new(&state.pool, &state.auth))
        .await
    {
        Err(ApiError::Forbidden) => Err(ApiError::NotFound),
        other => other,
    }
}

pub(crate) fn today_in(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

async fn planned_of(conn: &mut PgConnection, assignment: Uuid) -> Result<Vec<Planned>, ApiError> {
    Ok(sqlx::query_as!(
        Planned,
        "select id, date, week, day, name, starts_at from planned_workouts
         where assignment_id = $1 order by date, week, day",
        assignment
    )
    .fetch_all(conn)
    .await?)
}

async fn plan_event(
    conn: &mut PgConnection,
    a: &AssignmentRow,
    planned: &[Planned],
) -> Result<(), ApiError> {
    let event = CloudEvent::new(
        SOURCE,
        PLAN_CHANGED_V1,
        a.client_id.to_string(),
        PlanChanged {
            assignment_id: a.id,
            client_id: a.client_id,
            template_id: a.template_id,
            template_version: a.template_version,
            status: a.status.clone(),
            start_date: a.start_date,
            time_zone: a.time_zone.clone(),
            revision: a.revision,
            planned: planned
                .iter()
                .map(|p| PlannedWorkout {
                    planned_workout_id: p.id,
                    date: p.date,
                    week: p.week,
                    day: p.day,
                    name: p.name.clone(),
                })
                .collect(),
        },
    );
    outbox::enqueue(conn, Topic::Training, &event).await?;
    Ok(())
}

fn assignment(a: AssignmentRow, planned: Vec<Planned>) -> Assignment {
    Assignment {
        id: a.id,
        template_id: a.template_id,
        template_version: a.template_version,
        client_id: a.client_id,
        assigned_by: a.assigned_by,
        start_date: a.start_date,
        time_zone: a.time_zone,
        status: a.status,
        revision: a.revision,
        document: a.document.0,
        planned,
    }
}

/// Trainers assign to the clients they train; gym accounts to their gym's members.
pub(crate) async fn may_coach(
    state: &TrainingState,
    user: &AuthUser,
    client: Uuid,
) -> Result<(), ApiError> {
    let grants = Grants::new(&state.pool, &state.auth);
    let allowed = match (user.role(), user.claims().gym) {
        (Role::Trainer, _) => grants.trains(user.id(), client).await?,
        (Role::Gym, Some(gym)) => grants.in_gym(gym, client).await?,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// `POST /api/programs/{id}/assignments`
#[utoipa::path(
    post, path = "/api/programs/{id}/assignments", tag = "programs",
    summary = "Assign a template to a client from a start date in their time zone (their trainer or gym)",
    params(("id" = Uuid, Path, description = "The template")),
    request_body = AssignRequest,
    responses((status = 201, description = "Assigned: the snapshot and its planned workouts", body = Assignment), (status = 404, description = "No such template the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn assign(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<AssignRequest>,
) -> Result<(StatusCode, Json<Assignment>), ApiError> {
    let tz = time_zone(&req.time_zone)?;
    may_coach(&state, &user, req.client_id).await?;
    let scope = scope(&state, &user).await?;
    let today = today_in(tz);
    within_a_year(req.start_date, today)?;
    let mut tx = state.pool.begin().await?;
    let template = fetch_template(&mut tx, id, scope.as_deref()).await?;
    let a = sqlx::query_as!(
        AssignmentRow,
        r#"insert into program_assignments (id, template_id, template_version, client_id, assigned_by,
                                            start_date, time_zone, status, document)
           values ($1, $2, $3, $4, $5, $6, $7, 'active', $8)
           returning id, template_id, template_version, client_id, assigned_by, start_date, time_zone,
                     status, revision, document as "document: DbJson<ProgramDocument>""#,
        Uuid::now_v7(),
        template.id,
        template.version,
        req.client_id,
        user.id(),
        req.start_date,
        tz.name(),
        DbJson(&template.document.0) as _
    )
    .fetch_one(&mut *tx)
    .await?;
    let dates = document::planned_dates(&a.document.0, a.start_date);
    insert_planned(&mut tx, &a, &dates, tz).await?;
    let planned = planned_of(&mut tx, a.id).await?;
    plan_event(&mut tx, &a, &planned).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(assignment(a, planned))))
}

/// Writes planned workouts of an assignment: (week, day) of its document on a date.
async fn insert_planned(
    conn: &mut PgConnection,
    a: &AssignmentRow,
    dates: &[(usize, usize, NaiveDate)],
    tz: Tz,
) -> Result<(), ApiError> {
    let doc = &a.document.0;
    let (mut ids, mut days, mut weeks, mut numbers, mut names, mut slots, mut starts) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for &(w, d, date) in dates {
        let day = &doc.weeks[w].days[d];
        ids.push(Uuid::now_v7());
        days.push(date);
        weeks.push(i32::try_from(w + 1).unwrap_or(i32::MAX));
        numbers.push(i32::try_from(d + 1).unwrap_or(i32::MAX));
        names.push(day.name.clone());
        slots.push(serde_json::to_value(&day.slots).map_err(anyhow::Error::from)?);
        starts.push(start_of(date, tz));
    }
    sqlx::query!(
        "insert into planned_workouts (id, assignment_id, client_id, date, week, day, name, slots, starts_at)
         select i, $2, $3, d, w, n, m, s, t
         from unnest($1::uuid[], $4::date[], $5::int[], $6::int[], $7::text[], $8::jsonb[], $9::timestamptz[])
              as x(i, d, w, n, m, s, t)",
        &ids,
        a.id,
        a.client_id,
        &days,
        &weeks,
        &numbers,
        &names,
        &slots,
        &starts
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops the workouts still to come (after today, no session) from a plan.
async fn drop_to_come(
    conn: &mut PgConnection,
    assignment: Uuid,
    today: NaiveDate,
) -> Result<(), ApiError> {
    sqlx::query!(
        "delete from planned_workouts p where assignment_id = $1 and date > $2
           and not exists (select 1 from workouts w where w.planned_workout_id = p.id)",
        assignment,
        today
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Re-plans what is still to come: every workout of the document not done yet (planned
/// after today, no session) goes to its date from the start plus the days paused; those
/// that land on or before today are not planned any more. Workouts on or before today,
/// and those with a session, stay where they are.
async fn replan(
    conn: &mut PgConnection,
    a: &AssignmentRow,
    shift_days: i32,
) -> Result<(), ApiError> {
    let tz = time_zone(&a.time_zone)?;
    let today = today_in(tz);
    drop_to_come(conn, a.id, today).await?;
    let kept: BTreeSet<(i32, i32)> = sqlx::query!(
        "select week, day from planned_workouts where assignment_id = $1",
        a.id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.week, r.day))
    .collect();
    let shift = chrono::Days::new(u64::try_from(shift_days).unwrap_or(0));
    let dates: Vec<(usize, usize, NaiveDate)> =
        document::planned_dates(&a.document.0, a.start_date)
            .into_iter()
            .filter(|(w, d, _)| {
                let key = (
                    i32::try_from(w + 1).unwrap_or(i32::MAX),
                    i32::try_from(d + 1).unwrap_or(i32::MAX),
                );
                !kept.contains(&key)
            })
            .filter_map(|(w, d, date)| Some((w, d, date.checked_add_days(shift)?)))
            .filter(|(_, _, date)| *date > today)
            .collect();
    insert_planned(conn, a, &dates, tz).await
}

/// Pausing or resuming.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// `paused`: the workouts after today are held; `active`: they resume from tomorrow,
    /// moved by the days paused.
    #[schema(example = "paused")]
    status: String,
}

/// `POST /api/programs/assignments/{id}/status`: pause or resume a client's program.
#[utoipa::path(
    post, path = "/api/programs/assignments/{id}/status", tag = "programs",
    summary = "Pause or resume a client's program (their trainer or gym)",
    params(("id" = Uuid, Path, description = "The assignment")),
    request_body = PauseRequest,
    responses((status = 200, description = "Re-planned", body = Assignment), (status = 404, description = "No such assignment the caller may see", body = fitsync_platform::Problem), (status = 409, description = "Not active (to pause) or not paused (to resume)", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn pause(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<PauseRequest>,
) -> Result<Json<Assignment>, ApiError> {
    let (from, to) = match req.status.as_str() {
        "paused" => ("active", "paused"),
        "active" => ("paused", "active"),
        _ => return Err(ApiError::field("status", "paused or active")),
    };
    let current = readable(&state, &user, id).await?;
    may_coach(&state, &user, current.client_id).await?;
    let today = today_in(time_zone(&current.time_zone)?);
    let mut tx = state.pool.begin().await?;
    let changed = sqlx::query!(
        r#"update program_assignments
           set status = $3, revision = revision + 1,
               shift_days = shift_days + case when $3 = 'active' then $4::date - paused_on else 0 end,
               paused_on = case when $3 = 'paused' then $4::date end
           where id = $1 and status = $2
           returning shift_days"#,
        id,
        from,
        to,
        today
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::Conflict(format!("the program is not {from}")))?;
    let a = fetch_assignment(&mut tx, id).await?;
    if to == "paused" {
        drop_to_come(&mut tx, id, today).await?;
    } else {
        replan(&mut tx, &a, changed.shift_days).await?;
    }
    let planned = planned_of(&mut tx, id).await?;
    plan_event(&mut tx, &a, &planned).await?;
    tx.commit().await?;
    Ok(Json(assignment(a, planned)))
}

/// A new start date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AssignmentReschedule)]
pub struct RescheduleRequest {
    /// The first day of week 1, in the client's time zone (within a year of today).
    start_date: NaiveDate,
}

/// `PUT /api/programs/assignments/{id}/start`: moves the program to a new start date;
/// what is still to come is re-planned from it (days paused before are forgotten).
#[utoipa::path(
    put, path = "/api/programs/assignments/{id}/start", tag = "programs",
    summary = "Change the start date of a client's program (their trainer or gym)",
    params(("id" = Uuid, Path, description = "The assignment")),
    request_body = RescheduleRequest,
    responses((status = 200, description = "Re-planned", body = Assignment), (status = 404, description = "No such assignment the caller may see", body = fitsync_platform::Problem), (status = 409, description = "Not active", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn reschedule(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RescheduleRequest>,
) -> Result<Json<Assignment>, ApiError> {
    let current = readable(&state, &user, id).await?;
    may_coach(&state, &user, current.client_id).await?;
    let today = today_in(time_zone(&current.time_zone)?);
    within_a_year(req.start_date, today)?;
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "update program_assignments set start_date = $2, shift_days = 0, revision = revision + 1
         where id = $1 and status = 'active' returning id",
        id,
        req.start_date
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::Conflict("only an active program is rescheduled".into()))?;
    let a = fetch_assignment(&mut tx, id).await?;
    replan(&mut tx, &a, 0).await?;
    let planned = planned_of(&mut tx, id).await?;
    plan_event(&mut tx, &a, &planned).await?;
    tx.commit().await?;
    Ok(Json(assignment(a, planned)))
}

async fn fetch_assignment(conn: &mut PgConnection, id: Uuid) -> Result<AssignmentRow, ApiError> {
    sqlx::query_as!(
        AssignmentRow,
        r#"select id, template_id, template_version, client_id, assigned_by, start_date, time_zone,
                  status, revision, document as "document: DbJson<ProgramDocument>"
           from program_assignments where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(ApiError::NotFound)
}

/// An assignment of a client the caller may read; 404 for others, so ids reveal nothing.
async fn readable(
    state: &TrainingState,
    user: &AuthUser,
    id: Uuid,
) -> Result<AssignmentRow, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let a = fetch_assignment(&mut conn, id).await?;
    hidden_unless_readable(state, user, a.client_id).await?;
    Ok(a)
}

/// `GET /api/programs/assignments/{id}`
#[utoipa::path(
    get, path = "/api/programs/assignments/{id}", tag = "programs",
    summary = "A client's program: its snapshot and planned workouts",
    params(("id" = Uuid, Path, description = "The assignment")),
    responses((status = 200, description = "The assignment", body = Assignment), (status = 404, description = "No such assignment the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn get_assignment(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Assignment>, ApiError> {
    let a = readable(&state, &user, id).await?;
    let planned = planned_of(&mut *state.pool.acquire().await?, a.id).await?;
    Ok(Json(assignment(a, planned)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssignmentsQuery {
    /// Whose programs (default: the caller's).
    client_id: Option<Uuid>,
}

/// An assignment in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentSummary {
    id: Uuid,
    template_id: Uuid,
    template_version: i32,
    start_date: NaiveDate,
    time_zone: String,
    status: String,
    revision: i32,
}

/// `GET /api/programs/assignments?client_id=`
#[utoipa::path(
    get, path = "/api/programs/assignments", tag = "programs",
    summary = "A client's programs, newest first",
    params(AssignmentsQuery),
    responses((status = 200, description = "Assignments", body = Vec<AssignmentSummary>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn assignments(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<AssignmentsQuery>,
) -> Result<Json<Vec<AssignmentSummary>>, ApiError> {
    let client = q.client_id.unwrap_or(user.id());
    user.may_read_client(client, &Grants::new(&state.pool, &state.auth))
        .await?;
    let rows = sqlx::query_as!(
        AssignmentSummary,
        "select id, template_id, template_version, start_date, time_zone, status, revision
         from program_assignments where client_id = $1 order by created_at desc limit 200",
        client
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// `POST /api/programs/assignments/{id}/end`: the workouts planned after today (the
/// client's today) are dropped; what was done stays.
#[utoipa::path(
    post, path = "/api/programs/assignments/{id}/end", tag = "programs",
    summary = "End a client's program (their trainer or gym)",
    params(("id" = Uuid, Path, description = "The assignment")),
    responses((status = 200, description = "Ended", body = Assignment), (status = 404, description = "No such assignment the caller may see", body = fitsync_platform::Problem), (status = 409, description = "Already ended", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn end(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Assignment>, ApiError> {
    let current = readable(&state, &user, id).await?;
    may_coach(&state, &user, current.client_id).await?;
    let tz = time_zone(&current.time_zone)?;
    let mut tx = state.pool.begin().await?;
    let a = sqlx::query_as!(
        AssignmentRow,
        r#"update program_assignments set status = 'ended', ended_at = now(), revision = revision + 1
           where id = $1 and status in ('active', 'paused')
           returning id, template_id, template_version, client_id, assigned_by, start_date, time_zone,
                     status, revision, document as "document: DbJson<ProgramDocument>""#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::Conflict("the program has already ended".into()))?;
    sqlx::query!(
        "delete from planned_workouts where assignment_id = $1 and date > $2",
        id,
        today_in(tz)
    )
    .execute(&mut *tx)
    .await?;
    let planned = planned_of(&mut tx, id).await?;
    plan_event(&mut tx, &a, &planned).await?;
    tx.commit().await?;
    Ok(Json(assignment(a, planned)))
}

/// One slot of the next workout, with the load it prescribes today.
#[derive(Debug, Serialize, ToSchema)]
pub struct Prescription {
    exercise: String,
    sets: i64,
    reps_min: i64,
    reps_max: i64,
    load: Load,
    /// Kilograms for this session: an absolute load moved by its progression rule through
    /// the client's past sessions, or a share of their e1RM (absent for effort targets
    /// and before any e1RM).
    prescribed_kg: Option<f64>,
}

/// The next planned workout and its prescriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextWorkout {
    planned_workout_id: Uuid,
    date: NaiveDate,
    week: i32,
    day: i32,
    name: String,
    slots: Vec<Prescription>,
}

/// `GET /api/programs/assignments/{id}/next`
#[utoipa::path(
    get, path = "/api/programs/assignments/{id}/next", tag = "programs",
    summary = "The next planned workout (today or later), its loads progressed from what the client did",
    params(("id" = Uuid, Path, description = "The assignment")),
    responses((status = 200, description = "The next workout", body = NextWorkout), (status = 404, description = "No such assignment, or nothing left to do", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn next(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<NextWorkout>, ApiError> {
    let a = readable(&state, &user, id).await?;
    let tz = time_zone(&a.time_zone)?;
    let today = today_in(tz);
    let mut conn = state.pool.acquire().await?;
    let planned = planned_of(&mut conn, a.id).await?;
    let Some(next) = planned.iter().find(|p| p.date >= today).cloned() else {
        return Err(ApiError::NotFound);
    };
    let doc = &a.document.0;
    let day = &doc.weeks[usize::try_from(next.week - 1).unwrap_or(0)].days
        [usize::try_from(next.day - 1).unwrap_or(0)];
    // The client's sets since the program started, by exercise and local date.
    let since = start_of(a.start_date, tz);
    let rows = sqlx::query!(
        // Reps in reserve as given, or from RPE (⌊10 − RPE⌋, as the analytics count it).
        r#"select exercise, reps, weight_kg, coalesce(rir, floor(10 - rpe)::int) as rir, performed_at
           from workout_sets
           where client_id = $1 and performed_at >= $2 order by performed_at"#,
        a.client_id,
        since
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut done: HashMap<(String, NaiveDate), Vec<DoneSet>> = HashMap::new();
    for r in rows {
        done.entry((r.exercise, r.performed_at.with_timezone(&tz).date_naive()))
            .or_default()
            .push(DoneSet {
                reps: i64::from(r.reps),
                kg: r.weight_kg,
                rir: r.rir.map(i64::from),
            });
    }
    let mut slots = Vec::with_capacity(day.slots.len());
    for slot in &day.slots {
        let prescribed_kg = match &slot.load {
            Load::Absolute { kg } => Some(match &slot.progression {
                Some(rule) => {
                    let history = earlier_sessions(doc, &planned, &next, slot);
                    let first_kg = history
                        .first()
                        .and_then(|(_, s)| match s.load {
                            Load::Absolute { kg } => Some(kg),
                            _ => None,
                        })
                        .unwrap_or(*kg);
                    let past: Vec<Option<Vec<DoneSet>>> = history
                        .iter()
                        .map(|(date, _)| done.get(&(slot.exercise.clone(), *date)).cloned())
                        .collect();
                    document::next_load(first_kg, slot, rule, &past)
                }
                None => *kg,
            }),
            Load::PercentE1rm { percent } => {
                let best = sqlx::query_scalar!(
                    r#"select max(case when reps + coalesce(rir, floor(10 - rpe)::int, 0) <= 1 then weight_kg
                                       else weight_kg * (1 + (reps + coalesce(rir, floor(10 - rpe)::int, 0)) / 30.0) end) as "best"
                       from workout_sets where client_id = $1 and exercise = $2"#,
                    a.client_id,
                    slot.exercise
                )
                .fetch_one(&mut *conn)
                .await?;
                best.map(|e| ((e * percent / 100.0) * 4.0).round() / 4.0)
            }
            Load::Rir { .. } | Load::Rpe { .. } => None,
        };
        slots.push(Prescription {
            exercise: slot.exercise.clone(),
            sets: slot.sets,
            reps_min: slot.reps_min,
            reps_max: slot.reps_max,
            load: slot.load.clone(),
            prescribed_kg,
        });
    }
    Ok(Json(NextWorkout {
        planned_workout_id: next.id,
        date: next.date,
        week: next.week,
        day: next.day,
        name: next.name,
        slots,
    }))
}

/// The earlier planned sessions of a slot: the planned workouts before `next` with the
/// same day name that prescribe the same exercise, oldest first, with that slot.
fn earlier_sessions<'a>(
    doc: &'a ProgramDocument,
    planned: &[Planned],
    next: &Planned,
    slot: &Slot,
) -> Vec<(NaiveDate, &'a Slot)> {
    planned
        .iter()
        .filter(|p| p.date < next.date && p.name == next.name)
        .filter_map(|p| {
            let day = doc
                .weeks
                .get(usize::try_from(p.week - 1).ok()?)?
                .days
                .get(usize::try_from(p.day - 1).ok()?)?;
            day.slots
                .iter()
                .find(|s| s.exercise == slot.exercise)
                .map(|s| (p.date, s))
        })
        .collect()
}
