//! Diet plans (`/api/diets/*`): daily targets and meals a trainer or a gym writes and
//! versions, assigned to a client as a snapshot; the client's food log per day. Daily
//! adherence to the targets is computed downstream, by the analytics job.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, NaiveDate, Utc};
use fitsync_events::{
    CloudEvent, DietAssignmentChanged, DietSaved, FoodDeleted, FoodLogged, Nutrients, Topic,
    DIET_ASSIGNMENT_CHANGED_V1, DIET_SAVED_V1, FOOD_DELETED_V1, FOOD_LOGGED_V1,
};
use fitsync_platform::{auth::Grants, outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser};
use serde::{Deserialize, Serialize};
use sqlx::{types::Json as DbJson, PgConnection};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    handlers::SOURCE,
    programs::{
        author, hidden_unless_readable, may_coach, scope, time_zone, today_in, within_a_year,
    },
    TrainingState,
};

/// Energy (kcal) and macronutrients (grams).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Macros {
    #[schema(minimum = 0)]
    kcal: f64,
    #[schema(minimum = 0)]
    protein_g: f64,
    #[schema(minimum = 0)]
    carbs_g: f64,
    #[schema(minimum = 0)]
    fat_g: f64,
    #[schema(minimum = 0)]
    fiber_g: f64,
}

impl From<Macros> for Nutrients {
    fn from(m: Macros) -> Self {
        Nutrients {
            kcal: m.kcal,
            protein_g: m.protein_g,
            carbs_g: m.carbs_g,
            fat_g: m.fat_g,
            fiber_g: m.fiber_g,
        }
    }
}

/// The most a day's target may be: kcal, protein, carbs, fat, fiber.
const TARGET_MAX: [(&str, f64); 5] = [
    ("kcal", 10_000.0),
    ("protein_g", 600.0),
    ("carbs_g", 1_500.0),
    ("fat_g", 600.0),
    ("fiber_g", 200.0),
];

impl Macros {
    fn check_targets(&self, at: &str, errors: &mut Vec<fitsync_platform::FieldError>) {
        let values = Nutrients::from(*self).values();
        let before = errors.len();
        for ((name, max), value) in TARGET_MAX.iter().zip(values) {
            if !(value.is_finite() && (0.0..=*max).contains(&value)) {
                errors.push(fitsync_platform::FieldError::new(
                    format!("{at}.{name}"),
                    format!("must be between 0 and {max}"),
                ));
            }
        }
        if self.kcal < 500.0 && errors.len() == before {
            errors.push(fitsync_platform::FieldError::new(
                format!("{at}.kcal"),
                "a daily target of at least 500 kcal",
            ));
        }
    }

    fn check_per_100g(&self, at: &str, errors: &mut Vec<fitsync_platform::FieldError>) {
        if let Err(reason) = Nutrients::from(*self).validate_per_100g() {
            errors.push(fitsync_platform::FieldError::new(at.to_owned(), reason));
        }
    }
}

/// One food of a meal: its grams and what 100 g of it holds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MealItem {
    #[schema(min_length = 1, max_length = 120, example = "Rolled oats")]
    food: String,
    #[schema(minimum = 0, maximum = 5000)]
    grams: f64,
    per_100g: Macros,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Meal {
    #[schema(min_length = 1, max_length = 40, example = "Breakfast")]
    name: String,
    #[schema(max_items = 40)]
    items: Vec<MealItem>,
}

/// A diet plan: daily targets, and meals that meet them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DietDocument {
    #[schema(min_length = 1, max_length = 80, example = "Lean bulk 2800")]
    name: String,
    targets: Macros,
    #[serde(default)]
    #[schema(max_items = 12)]
    meals: Vec<Meal>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    notes: Option<String>,
}

fn length_error(errors: &mut Vec<fitsync_platform::FieldError>, at: &str, text: &str, max: usize) {
    let n = text.trim().chars().count();
    if n == 0 || n > max {
        errors.push(fitsync_platform::FieldError::new(
            at.to_owned(),
            format!("1 to {max} characters"),
        ));
    }
}

impl DietDocument {
    /// Every problem at once, each with its place in the document.
    fn check(&mut self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        length_error(&mut errors, "document.name", &self.name, 80);
        self.name = self.name.trim().to_owned();
        self.targets.check_targets("document.targets", &mut errors);
        if self.meals.len() > 12 {
            errors.push(fitsync_platform::FieldError::new(
                "document.meals",
                "at most 12 meals",
            ));
        }
        if self
            .notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > 2000)
        {
            errors.push(fitsync_platform::FieldError::new(
                "document.notes",
                "at most 2000 characters",
            ));
        }
        for (m, meal) in self.meals.iter_mut().enumerate() {
            let at = format!("document.meals[{m}]");
            length_error(&mut errors, &format!("{at}.name"), &meal.name, 40);
            meal.name = meal.name.trim().to_owned();
            if meal.items.len() > 40 {
                errors.push(fitsync_platform::FieldError::new(
                    format!("{at}.items"),
                    "at most 40 items",
                ));
            }
            for (i, item) in meal.items.iter_mut().enumerate() {
                let at = format!("{at}.items[{i}]");
                length_error(&mut errors, &format!("{at}.food"), &item.food, 120);
                item.food = item.food.trim().to_owned();
                if !(item.grams.is_finite() && item.grams > 0.0 && item.grams <= 5000.0) {
                    errors.push(fitsync_platform::FieldError::new(
                        format!("{at}.grams"),
                        "above 0 and at most 5000",
                    ));
                }
                item.per_100g
                    .check_per_100g(&format!("{at}.per_100g"), &mut errors);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// A diet plan at its current version.
#[derive(Debug, Serialize, ToSchema)]
pub struct DietPlan {
    id: Uuid,
    /// `trainer` or `gym`.
    owner_kind: String,
    owner_id: Uuid,
    version: i32,
    document: DietDocument,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

struct PlanRow {
    id: Uuid,
    owner_kind: String,
    owner_id: Uuid,
    version: i32,
    document: DbJson<DietDocument>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PlanRow> for DietPlan {
    fn from(r: PlanRow) -> Self {
        DietPlan {
            id: r.id,
            owner_kind: r.owner_kind,
            owner_id: r.owner_id,
            version: r.version,
            document: r.document.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

async fn fetch_plan(
    conn: &mut PgConnection,
    id: Uuid,
    scope: Option<&[Uuid]>,
) -> Result<PlanRow, ApiError> {
    sqlx::query_as!(
        PlanRow,
        r#"select id, owner_kind, owner_id, version, document as "document: DbJson<DietDocument>",
                  created_at, updated_at
           from diet_plans where id = $1 and ($2::uuid[] is null or owner_id = any($2))"#,
        id,
        scope as Option<&[Uuid]>
    )
    .fetch_optional(conn)
    .await?
    .ok_or(ApiError::NotFound)
}

async fn saved_event(conn: &mut PgConnection, p: &PlanRow) -> Result<(), ApiError> {
    let doc = &p.document.0;
    let event = CloudEvent::new(
        SOURCE,
        DIET_SAVED_V1,
        p.owner_id.to_string(),
        DietSaved {
            plan_id: p.id,
            owner_kind: p.owner_kind.clone(),
            owner_id: p.owner_id,
            version: p.version,
            name: doc.name.clone(),
            targets: doc.targets.into(),
            meals: i32::try_from(doc.meals.len()).unwrap_or(i32::MAX),
        },
    );
    outbox::enqueue(conn, Topic::Training, &event).await?;
    Ok(())
}

/// `POST /api/diets`
#[utoipa::path(
    post, path = "/api/diets", tag = "diets",
    summary = "Write a diet plan (trainers for themselves, gym accounts for their gym)",
    request_body = DietDocument,
    responses((status = 201, description = "Saved as version 1", body = DietPlan)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn create(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiJson(mut doc): ApiJson<DietDocument>,
) -> Result<(StatusCode, Json<DietPlan>), ApiError> {
    let (kind, owner) = author(&user)?;
    doc.check()?;
    let mut tx = state.pool.begin().await?;
    let row = sqlx::query_as!(
        PlanRow,
        r#"insert into diet_plans (id, owner_kind, owner_id, name, version, document, created_by)
           values ($1, $2, $3, $4, 1, $5, $6)
           returning id, owner_kind, owner_id, version, document as "document: DbJson<DietDocument>",
                     created_at, updated_at"#,
        Uuid::now_v7(),
        kind,
        owner,
        doc.name,
        DbJson(&doc) as _,
        user.id()
    )
    .fetch_one(&mut *tx)
    .await?;
    saved_event(&mut tx, &row).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// A diet plan in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DietSummary {
    id: Uuid,
    name: String,
    owner_kind: String,
    owner_id: Uuid,
    version: i32,
    updated_at: DateTime<Utc>,
}

/// `GET /api/diets`
#[utoipa::path(
    get, path = "/api/diets", tag = "diets",
    summary = "The diet plans the caller may see: their own and their gym's",
    responses((status = 200, description = "Newest first", body = Vec<DietSummary>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn list(
    State(state): State<TrainingState>,
    user: AuthUser,
) -> Result<Json<Vec<DietSummary>>, ApiError> {
    let scope = scope(&state, &user).await?;
    let rows = sqlx::query_as!(
        DietSummary,
        "select id, name, owner_kind, owner_id, version, updated_at from diet_plans
         where $1::uuid[] is null or owner_id = any($1)
         order by updated_at desc, id limit 500",
        scope.as_deref() as Option<&[Uuid]>
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// `GET /api/diets/{id}`
#[utoipa::path(
    get, path = "/api/diets/{id}", tag = "diets",
    summary = "One diet plan at its current version",
    params(("id" = Uuid, Path, description = "The plan")),
    responses((status = 200, description = "The plan", body = DietPlan), (status = 404, description = "No such plan the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn get(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<DietPlan>, ApiError> {
    let scope = scope(&state, &user).await?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        fetch_plan(&mut conn, id, scope.as_deref()).await?.into(),
    ))
}

/// `PUT /api/diets/{id}`: a new version; assignments keep the version they snapshot.
#[utoipa::path(
    put, path = "/api/diets/{id}", tag = "diets",
    summary = "Save a new version of a diet plan (its owner)",
    params(("id" = Uuid, Path, description = "The plan")),
    request_body = DietDocument,
    responses((status = 200, description = "The new version", body = DietPlan), (status = 404, description = "No such plan the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn update(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(mut doc): ApiJson<DietDocument>,
) -> Result<Json<DietPlan>, ApiError> {
    let scope = scope(&state, &user).await?;
    let mut tx = state.pool.begin().await?;
    let current = fetch_plan(&mut tx, id, scope.as_deref()).await?;
    if author(&user).map(|(_, owner)| owner).ok() != Some(current.owner_id) {
        return Err(ApiError::Forbidden);
    }
    doc.check()?;
    let row = sqlx::query_as!(
        PlanRow,
        r#"update diet_plans set version = version + 1, document = $2, name = $3, updated_at = now()
           where id = $1
           returning id, owner_kind, owner_id, version, document as "document: DbJson<DietDocument>",
                     created_at, updated_at"#,
        id,
        DbJson(&doc) as _,
        doc.name
    )
    .fetch_one(&mut *tx)
    .await?;
    saved_event(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(Json(row.into()))
}

/// Assigning a diet plan to a client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DietAssignRequest {
    client_id: Uuid,
    /// The first day the targets apply, in the client's time zone.
    start_date: NaiveDate,
    /// The client's IANA time zone, e.g. `Europe/Berlin`.
    #[schema(example = "Europe/Berlin", max_length = 64)]
    time_zone: String,
}

/// A client's diet: the snapshot they follow, and the days it applies.
#[derive(Debug, Serialize, ToSchema)]
pub struct DietAssignment {
    id: Uuid,
    plan_id: Uuid,
    plan_version: i32,
    client_id: Uuid,
    assigned_by: Uuid,
    start_date: NaiveDate,
    /// The last day it applies (absent: open).
    end_date: Option<NaiveDate>,
    time_zone: String,
    /// `active` or `ended`.
    status: String,
    revision: i32,
    document: DietDocument,
}

struct DietAssignmentRow {
    id: Uuid,
    plan_id: Uuid,
    plan_version: i32,
    client_id: Uuid,
    assigned_by: Uuid,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    time_zone: String,
    status: String,
    revision: i32,
    document: DbJson<DietDocument>,
}

impl From<DietAssignmentRow> for DietAssignment {
    fn from(a: DietAssignmentRow) -> Self {
        DietAssignment {
            id: a.id,
            plan_id: a.plan_id,
            plan_version: a.plan_version,
            client_id: a.client_id,
            assigned_by: a.assigned_by,
            start_date: a.start_date,
            end_date: a.end_date,
            time_zone: a.time_zone,
            status: a.status,
            revision: a.revision,
            document: a.document.0,
        }
    }
}

async fn assignment_event(conn: &mut PgConnection, a: &DietAssignmentRow) -> Result<(), ApiError> {
    let event = CloudEvent::new(
        SOURCE,
        DIET_ASSIGNMENT_CHANGED_V1,
        a.client_id.to_string(),
        DietAssignmentChanged {
            assignment_id: a.id,
            client_id: a.client_id,
            plan_id: a.plan_id,
            plan_version: a.plan_version,
            status: a.status.clone(),
            start_date: a.start_date,
            end_date: a.end_date,
            time_zone: a.time_zone.clone(),
            targets: a.document.0.targets.into(),
            revision: a.revision,
        },
    );
    outbox::enqueue(conn, Topic::Training, &event).await?;
    Ok(())
}

/// `POST /api/diets/{id}/assignments`: the client's diet from `start_date`; the diet they
/// followed before ends the day before (one that had not started yet ends void: its end
/// the day before its start, so it applies on no day).
#[utoipa::path(
    post, path = "/api/diets/{id}/assignments", tag = "diets",
    summary = "Assign a diet plan to a client from a start date (their trainer or gym)",
    params(("id" = Uuid, Path, description = "The plan")),
    request_body = DietAssignRequest,
    responses((status = 201, description = "Assigned: the snapshot", body = DietAssignment), (status = 404, description = "No such plan the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn assign(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<DietAssignRequest>,
) -> Result<(StatusCode, Json<DietAssignment>), ApiError> {
    let tz = time_zone(&req.time_zone)?;
    may_coach(&state, &user, req.client_id).await?;
    let scope = scope(&state, &user).await?;
    let today = today_in(tz);
    within_a_year(req.start_date, today)?;
    let mut tx = state.pool.begin().await?;
    let plan = fetch_plan(&mut tx, id, scope.as_deref()).await?;
    // One diet at a time: the ones still open end the day before this one starts.
    let ended = sqlx::query_as!(
        DietAssignmentRow,
        r#"update diet_assignments
           set status = 'ended', end_date = greatest(start_date - 1, $2::date - 1), revision = revision + 1
           where client_id = $1 and status = 'active'
           returning id, plan_id, plan_version, client_id, assigned_by, start_date, end_date, time_zone,
                     status, revision, document as "document: DbJson<DietDocument>""#,
        req.client_id,
        req.start_date
    )
    .fetch_all(&mut *tx)
    .await?;
    for a in &ended {
        assignment_event(&mut tx, a).await?;
    }
    let a = sqlx::query_as!(
        DietAssignmentRow,
        r#"insert into diet_assignments (id, plan_id, plan_version, client_id, assigned_by, start_date,
                                         time_zone, status, document)
           values ($1, $2, $3, $4, $5, $6, $7, 'active', $8)
           returning id, plan_id, plan_version, client_id, assigned_by, start_date, end_date, time_zone,
                     status, revision, document as "document: DbJson<DietDocument>""#,
        Uuid::now_v7(),
        plan.id,
        plan.version,
        req.client_id,
        user.id(),
        req.start_date,
        tz.name(),
        DbJson(&plan.document.0) as _
    )
    .fetch_one(&mut *tx)
    .await?;
    assignment_event(&mut tx, &a).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientQuery {
    /// Whose (default: the caller's).
    client_id: Option<Uuid>,
}

/// `GET /api/diets/assignments?client_id=`
#[utoipa::path(
    get, path = "/api/diets/assignments", tag = "diets",
    summary = "A client's diets, newest first",
    params(ClientQuery),
    responses((status = 200, description = "Assignments", body = Vec<DietAssignment>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn assignments(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<ClientQuery>,
) -> Result<Json<Vec<DietAssignment>>, ApiError> {
    let client = q.client_id.unwrap_or(user.id());
    user.may_read_client(client, &Grants::new(&state.pool, &state.auth))
        .await?;
    let rows = sqlx::query_as!(
        DietAssignmentRow,
        r#"select id, plan_id, plan_version, client_id, assigned_by, start_date, end_date, time_zone,
                  status, revision, document as "document: DbJson<DietDocument>"
           from diet_assignments where client_id = $1 order by created_at desc, id desc limit 100"#,
        client
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// `POST /api/diets/assignments/{id}/end`: the targets stop applying after today (the
/// client's today); a diet that had not started yet applies on no day.
#[utoipa::path(
    post, path = "/api/diets/assignments/{id}/end", tag = "diets",
    summary = "End a client's diet (their trainer or gym)",
    params(("id" = Uuid, Path, description = "The assignment")),
    responses((status = 200, description = "Ended", body = DietAssignment), (status = 404, description = "No such assignment the caller may see", body = fitsync_platform::Problem), (status = 409, description = "Already ended", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn end(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<DietAssignment>, ApiError> {
    let (client, zone) = sqlx::query!(
        "select client_id, time_zone from diet_assignments where id = $1",
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .map(|r| (r.client_id, r.time_zone))
    .ok_or(ApiError::NotFound)?;
    hidden_unless_readable(&state, &user, client).await?;
    may_coach(&state, &user, client).await?;
    let today = today_in(time_zone(&zone)?);
    let mut tx = state.pool.begin().await?;
    let a = sqlx::query_as!(
        DietAssignmentRow,
        r#"update diet_assignments
           set status = 'ended', end_date = greatest(start_date - 1, $2::date), revision = revision + 1
           where id = $1 and status = 'active'
           returning id, plan_id, plan_version, client_id, assigned_by, start_date, end_date, time_zone,
                     status, revision, document as "document: DbJson<DietDocument>""#,
        id,
        today
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::Conflict("the diet has already ended".into()))?;
    assignment_event(&mut tx, &a).await?;
    tx.commit().await?;
    Ok(Json(a.into()))
}

/// One food a client ate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FoodRequest {
    /// The (local) day it was eaten; default: today in the time zone of the client's
    /// diet (UTC without one).
    #[serde(default)]
    date: Option<NaiveDate>,
    #[serde(default)]
    #[schema(max_length = 40, example = "Breakfast")]
    meal: Option<String>,
    #[schema(min_length = 1, max_length = 120, example = "Rolled oats")]
    food: String,
    #[schema(minimum = 0, maximum = 5000)]
    grams: f64,
    per_100g: Macros,
}

/// A logged food, with what it contributed (grams × per 100 g ÷ 100).
#[derive(Debug, Serialize, ToSchema)]
pub struct FoodEntry {
    id: Uuid,
    client_id: Uuid,
    date: NaiveDate,
    meal: Option<String>,
    food: String,
    grams: f64,
    per_100g: Macros,
    eaten: Macros,
    logged_at: DateTime<Utc>,
}

struct FoodRow {
    id: Uuid,
    client_id: Uuid,
    date: NaiveDate,
    meal: Option<String>,
    food: String,
    grams: f64,
    kcal: f64,
    protein_g: f64,
    carbs_g: f64,
    fat_g: f64,
    fiber_g: f64,
    logged_at: DateTime<Utc>,
}

impl From<FoodRow> for FoodEntry {
    fn from(r: FoodRow) -> Self {
        let per_100g = Macros {
            kcal: r.kcal,
            protein_g: r.protein_g,
            carbs_g: r.carbs_g,
            fat_g: r.fat_g,
            fiber_g: r.fiber_g,
        };
        let share = |v: f64| (v * r.grams / 100.0 * 10.0).round() / 10.0;
        FoodEntry {
            eaten: Macros {
                kcal: share(r.kcal),
                protein_g: share(r.protein_g),
                carbs_g: share(r.carbs_g),
                fat_g: share(r.fat_g),
                fiber_g: share(r.fiber_g),
            },
            per_100g,
            id: r.id,
            client_id: r.client_id,
            date: r.date,
            meal: r.meal,
            food: r.food,
            grams: r.grams,
            logged_at: r.logged_at,
        }
    }
}

/// `POST /api/diets/log`: a client logs a food they ate.
#[utoipa::path(
    post, path = "/api/diets/log", tag = "diets",
    summary = "Log a food eaten on a day (clients, for themselves)",
    request_body = FoodRequest,
    responses((status = 201, description = "Logged", body = FoodEntry)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn log_food(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiJson(mut req): ApiJson<FoodRequest>,
) -> Result<(StatusCode, Json<FoodEntry>), ApiError> {
    let client_id = user.id();
    user.may_write_client(client_id)?;
    let mut errors = Vec::new();
    length_error(&mut errors, "food", &req.food, 120);
    req.food = req.food.trim().to_owned();
    req.meal = req
        .meal
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty());
    if req.meal.as_ref().is_some_and(|m| m.chars().count() > 40) {
        errors.push(fitsync_platform::FieldError::new(
            "meal",
            "at most 40 characters",
        ));
    }
    if !(req.grams.is_finite() && req.grams > 0.0 && req.grams <= 5000.0) {
        errors.push(fitsync_platform::FieldError::new(
            "grams",
            "above 0 and at most 5000",
        ));
    }
    req.per_100g.check_per_100g("per_100g", &mut errors);
    // The client's today: in their diet's time zone.
    let zone = sqlx::query_scalar!(
        "select time_zone from diet_assignments where client_id = $1 order by created_at desc limit 1",
        client_id
    )
    .fetch_optional(&state.pool)
    .await?;
    let today = today_in(zone.as_deref().map_or(Ok(chrono_tz::UTC), time_zone)?);
    let date = req.date.unwrap_or(today);
    if date > today + chrono::Days::new(1) || date < today - chrono::Days::new(366) {
        errors.push(fitsync_platform::FieldError::new(
            "date",
            "within the last year, and no later than tomorrow",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let m = req.per_100g;
    let mut tx = state.pool.begin().await?;
    let row = sqlx::query_as!(
        FoodRow,
        "insert into food_log (id, client_id, date, meal, food, grams, kcal, protein_g, carbs_g, fat_g, fiber_g)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         returning id, client_id, date, meal, food, grams, kcal, protein_g, carbs_g, fat_g, fiber_g, logged_at",
        Uuid::now_v7(),
        client_id,
        date,
        req.meal,
        req.food,
        req.grams,
        m.kcal,
        m.protein_g,
        m.carbs_g,
        m.fat_g,
        m.fiber_g
    )
    .fetch_one(&mut *tx)
    .await?;
    let event = CloudEvent::new(
        SOURCE,
        FOOD_LOGGED_V1,
        client_id.to_string(),
        FoodLogged {
            entry_id: row.id,
            client_id,
            date: row.date,
            meal: row.meal.clone(),
            food: row.food.clone(),
            grams: row.grams,
            per_100g: m.into(),
            logged_at: row.logged_at,
        },
    );
    outbox::enqueue(&mut tx, Topic::Training, &event).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FoodQuery {
    /// Whose log (default: the caller's).
    client_id: Option<Uuid>,
    /// The day.
    date: NaiveDate,
}

/// `GET /api/diets/log?client_id=&date=`
#[utoipa::path(
    get, path = "/api/diets/log", tag = "diets",
    summary = "What a client logged on a day, in the order logged",
    params(FoodQuery),
    responses((status = 200, description = "Entries", body = Vec<FoodEntry>)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn food_log(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<FoodQuery>,
) -> Result<Json<Vec<FoodEntry>>, ApiError> {
    let client = q.client_id.unwrap_or(user.id());
    user.may_read_client(client, &Grants::new(&state.pool, &state.auth))
        .await?;
    let rows = sqlx::query_as!(
        FoodRow,
        "select id, client_id, date, meal, food, grams, kcal, protein_g, carbs_g, fat_g, fiber_g, logged_at
         from food_log where client_id = $1 and date = $2 order by logged_at, id limit 500",
        client,
        q.date
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// `DELETE /api/diets/log/{id}`: the client deletes an entry; the day is recomputed
/// downstream without it.
#[utoipa::path(
    delete, path = "/api/diets/log/{id}", tag = "diets",
    summary = "Delete a food entry (clients, their own)",
    params(("id" = Uuid, Path, description = "The entry")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such entry of yours", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn delete_food(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let client_id = user.id();
    user.may_write_client(client_id)?;
    let mut tx = state.pool.begin().await?;
    sqlx::query_scalar!(
        "delete from food_log where id = $1 and client_id = $2 returning id",
        id,
        client_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let event = CloudEvent::new(
        SOURCE,
        FOOD_DELETED_V1,
        client_id.to_string(),
        FoodDeleted {
            entry_id: id,
            client_id,
            revision: 2,
        },
    );
    outbox::enqueue(&mut tx, Topic::Training, &event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
