//! The exercise library's API: search (served from OpenSearch, fed by the change
//! stream), one exercise, and custom exercises of a trainer or a gym, private to them and
//! to the clients and members they serve.

use axum::{extract::State, http::StatusCode, Json};
use fitsync_events::{
    Category, CloudEvent, Equipment, ExerciseDefined, Force, Level, Mechanic, Muscle, OwnerKind,
    Topic, EXERCISE_DEFINED_V1,
};
use fitsync_platform::{
    auth::{Grants, Role},
    outbox, ApiError, ApiJson, ApiPath, ApiQuery, AuthUser, FieldError,
};
use opensearch::SearchParts;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{domain::slugify, handlers::SOURCE, TrainingState};

/// One exercise of the library.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Exercise {
    /// Stable for the exercise's life: sets and programs name it by this.
    slug: String,
    name: String,
    /// Absent for the global library.
    owner_kind: Option<OwnerKind>,
    owner_id: Option<Uuid>,
    /// The Free Exercise DB id, for the global library.
    source_id: Option<String>,
    force: Option<Force>,
    level: Level,
    mechanic: Option<Mechanic>,
    equipment: Option<Equipment>,
    category: Category,
    primary_muscles: Vec<Muscle>,
    secondary_muscles: Vec<Muscle>,
    aliases: Vec<String>,
    revision: i64,
}

/// Who may see which custom exercises: their owners, and the clients and members of
/// the trainers and gyms that own them. Admins and services see all.
pub(crate) enum Visible {
    All,
    Owners(Vec<Uuid>),
}

impl Visible {
    /// What the token alone shows: the library, the caller's own and their gym's.
    pub(crate) fn own(user: &AuthUser) -> Self {
        if matches!(user.role(), Role::Admin | Role::Service) {
            return Visible::All;
        }
        let mut owners = vec![user.id()];
        owners.extend(user.claims().gym);
        Visible::Owners(owners)
    }

    /// Also the exercises of the caller's trainers and gyms, from the access projection
    /// (503 if it is behind: it grants nothing then).
    pub(crate) async fn of(state: &TrainingState, user: &AuthUser) -> Result<Self, ApiError> {
        let mut visible = Self::own(user);
        if let Visible::Owners(owners) = &mut visible {
            owners.extend(
                Grants::new(&state.pool, &state.auth)
                    .grantees(user.id())
                    .await?,
            );
        }
        Ok(visible)
    }

    /// For reads: with the projection behind, what the token alone shows (less, never
    /// more), rather than nothing.
    pub(crate) async fn for_reading(
        state: &TrainingState,
        user: &AuthUser,
    ) -> Result<Self, ApiError> {
        match Self::of(state, user).await {
            Err(ApiError::Unavailable(reason)) => {
                tracing::warn!(%reason, "custom exercises of trainers and gyms left out");
                Ok(Self::own(user))
            }
            other => other,
        }
    }

    /// The owners for a SQL `owner_id = any($n)` (`None`: no filter).
    pub(crate) fn owners(&self) -> Option<&[Uuid]> {
        match self {
            Visible::All => None,
            Visible::Owners(o) => Some(o),
        }
    }
}

/// An exercise as it stands in trainingdb (text columns, parsed on the way out).
struct Row {
    id: Uuid,
    slug: String,
    name: String,
    owner_kind: Option<String>,
    owner_id: Option<Uuid>,
    source_id: Option<String>,
    force: Option<String>,
    level: String,
    mechanic: Option<String>,
    equipment: Option<String>,
    category: String,
    primary_muscles: Vec<String>,
    secondary_muscles: Vec<String>,
    aliases: Vec<String>,
    revision: i64,
}

impl Row {
    fn into_exercise(self) -> Result<(Uuid, Exercise), ApiError> {
        let bad = |what: &str| {
            ApiError::Unexpected(anyhow::anyhow!("exercise {}: bad {what}", self.slug))
        };
        let muscles = |m: &[String]| -> Result<Vec<Muscle>, ApiError> {
            m.iter()
                .map(|m| Muscle::parse(m).ok_or_else(|| bad("muscle")))
                .collect()
        };
        let owner_kind = match self.owner_kind.as_deref() {
            None => None,
            Some("trainer") => Some(OwnerKind::Trainer),
            Some("gym") => Some(OwnerKind::Gym),
            Some(_) => return Err(bad("owner kind")),
        };
        let exercise = Exercise {
            owner_kind,
            owner_id: self.owner_id,
            source_id: self.source_id.clone(),
            force: self
                .force
                .as_deref()
                .map(|f| Force::parse(f).ok_or_else(|| bad("force")))
                .transpose()?,
            level: Level::parse(&self.level).ok_or_else(|| bad("level"))?,
            mechanic: self
                .mechanic
                .as_deref()
                .map(|m| Mechanic::parse(m).ok_or_else(|| bad("mechanic")))
                .transpose()?,
            equipment: self
                .equipment
                .as_deref()
                .map(|e| Equipment::parse(e).ok_or_else(|| bad("equipment")))
                .transpose()?,
            category: Category::parse(&self.category).ok_or_else(|| bad("category"))?,
            primary_muscles: muscles(&self.primary_muscles)?,
            secondary_muscles: muscles(&self.secondary_muscles)?,
            aliases: self.aliases.clone(),
            revision: self.revision,
            slug: self.slug.clone(),
            name: self.name.clone(),
        };
        Ok((self.id, exercise))
    }
}

async fn fetch(
    conn: &mut PgConnection,
    slug: &str,
    visible: &Visible,
) -> Result<Option<Row>, ApiError> {
    let owners = visible.owners();
    Ok(sqlx::query_as!(
        Row,
        "select id, slug, name, owner_kind, owner_id, source_id, force, level, mechanic, equipment,
                category, primary_muscles, secondary_muscles, aliases, revision
         from exercises
         where slug = $1 and (owner_id is null or $2::uuid[] is null or owner_id = any($2))",
        slug,
        owners as Option<&[Uuid]>
    )
    .fetch_optional(conn)
    .await?)
}

/// The library exercise a set names (by slug or alias), among those the client may use:
/// the library and their own first (no projection needed, so logging never waits on the
/// change stream), then their trainers' and gyms'.
pub(crate) async fn resolve_for(
    state: &TrainingState,
    conn: &mut PgConnection,
    name: &str,
    user: &AuthUser,
) -> Result<Option<String>, ApiError> {
    if let Some(slug) = resolve(conn, name, &Visible::own(user)).await? {
        return Ok(Some(slug));
    }
    resolve_shared(state, conn, name, user).await
}

/// The library exercise a set names (by slug or alias) among those its client's
/// trainers and gyms share, once `Visible::own` (the library and the client's own, no
/// projection needed, so logging never waits on the change stream) found none.
pub(crate) async fn resolve_shared(
    state: &TrainingState,
    conn: &mut PgConnection,
    name: &str,
    user: &AuthUser,
) -> Result<Option<String>, ApiError> {
    resolve(conn, name, &Visible::of(state, user).await?).await
}

/// One row by slug or alias (`@>` lets the alias GIN index answer: a lookup on every
/// logged set, 0.42 ms as a scan of the library against 0.08 ms by the indexes).
async fn resolve(
    conn: &mut PgConnection,
    name: &str,
    visible: &Visible,
) -> Result<Option<String>, ApiError> {
    Ok(sqlx::query_scalar!(
        "select slug from exercises
         where (slug = $1 or alias_slugs @> array[$1]::text[])
           and (owner_id is null or $2::uuid[] is null or owner_id = any($2))
         order by slug = $1 desc, owner_id is null desc, slug
         limit 1",
        name,
        visible.owners() as Option<&[Uuid]>
    )
    .fetch_optional(conn)
    .await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words of the name, an alias or an abbreviation; typos and prefixes are forgiven.
    #[param(max_length = 100, pattern = "^[^\\x00]*$")]
    q: Option<String>,
    /// Only exercises that work this muscle primarily.
    muscle: Option<Muscle>,
    equipment: Option<Equipment>,
    category: Option<Category>,
    /// How many (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// `GET /api/exercises?q=&muscle=&equipment=&category=&limit=`
#[utoipa::path(
    get, path = "/api/exercises", tag = "exercises",
    summary = "Search the exercise library (and the custom exercises the caller may use)",
    params(SearchQuery),
    responses(
        (status = 200, description = "Best matches first", body = Vec<Exercise>),
        (status = 503, description = "The search index is not available", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn search(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Vec<Exercise>>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 100"));
    }
    let text = q.q.as_deref().map(str::trim).unwrap_or("");
    if text.chars().count() > 100 || text.contains('\0') {
        return Err(ApiError::field("q", "at most 100 characters, no NUL"));
    }
    let visible = Visible::for_reading(&state, &user).await?;
    let mut filter = Vec::new();
    if let Some(owners) = visible.owners() {
        let mut allowed: Vec<String> = owners.iter().map(Uuid::to_string).collect();
        allowed.push(fitsync_events::LIBRARY_KEY.to_owned());
        filter.push(json!({"terms": {"owner": allowed}}));
    }
    if let Some(m) = q.muscle {
        filter.push(json!({"term": {"primary_muscles": m.as_str()}}));
    }
    if let Some(e) = q.equipment {
        filter.push(json!({"term": {"equipment": e.as_str()}}));
    }
    if let Some(c) = q.category {
        filter.push(json!({"term": {"category": c.as_str()}}));
    }
    let body = json!({
        "size": limit,
        "query": {"bool": {"must": [text_query(text)], "filter": filter}},
        "sort": ["_score", {"name.raw": "asc"}],
    });
    let response = state
        .search
        .client
        .search(SearchParts::Index(&[&state.search.index]))
        .body(body)
        .send()
        .await
        .map_err(|e| ApiError::Unavailable(format!("exercise search: {e}")))?;
    let status = response.status_code();
    let result: Value = response
        .json()
        .await
        .map_err(|e| ApiError::Unavailable(format!("exercise search: {e}")))?;
    if !status.is_success() {
        tracing::warn!(%status, error = %result["error"], "exercise search failed");
        return Err(ApiError::Unavailable(
            "the exercise index is not available yet".into(),
        ));
    }
    let hits = result["hits"]["hits"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let exercises = hits
        .into_iter()
        .map(|hit| serde_json::from_value::<Exercise>(hit["_source"].clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("an indexed exercise: {e}")))?;
    Ok(Json(exercises))
}

/// Name, aliases (with synonyms: "rdl" is "romanian deadlift"), forgiving typos, and
/// prefixes of each word as it is typed; an exact phrase or alias ranks first.
fn text_query(text: &str) -> Value {
    if text.is_empty() {
        return json!({"match_all": {}});
    }
    json!({"bool": {"should": [
        {"match": {"name": {"query": text, "operator": "and", "fuzziness": "AUTO:4,8", "prefix_length": 1, "boost": 2}}},
        {"match": {"name.prefix": {"query": text, "operator": "and"}}},
        {"match_phrase": {"name": {"query": text, "boost": 4}}},
        {"match": {"aliases": {"query": text, "operator": "and", "fuzziness": "AUTO:4,8", "prefix_length": 1, "boost": 3}}},
        {"match_phrase": {"aliases": {"query": text, "boost": 6}}},
        {"match": {"aliases.prefix": {"query": text, "operator": "and"}}}
    ], "minimum_should_match": 1}})
}

/// `GET /api/exercises/{slug}`
#[utoipa::path(
    get, path = "/api/exercises/{slug}", tag = "exercises",
    summary = "One exercise (a library one, or a custom one the caller may use)",
    params(("slug" = String, Path, description = "The exercise's slug")),
    responses((status = 200, description = "The exercise", body = Exercise), (status = 404, description = "No such exercise the caller may see", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn get(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Exercise>, ApiError> {
    let visible = Visible::for_reading(&state, &user).await?;
    let mut conn = state.pool.acquire().await?;
    let row = fetch(&mut conn, &slug, &visible)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(row.into_exercise()?.1))
}

/// Up to 20 other names of 1 to 80 characters, each with a letter or digit.
fn aliases_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[^\\x00]*[A-Za-z0-9][^\\x00]*$"))
                .min_length(Some(1))
                .max_length(Some(80)),
        )
        .max_items(Some(20))
        .build()
}

/// A custom exercise, as its owner defines it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExerciseRequest {
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = "^[^\\x00]*[A-Za-z0-9][^\\x00]*$"
    )]
    name: String,
    category: Category,
    level: Level,
    #[serde(default)]
    force: Option<Force>,
    #[serde(default)]
    mechanic: Option<Mechanic>,
    #[serde(default)]
    equipment: Option<Equipment>,
    #[schema(min_items = 1, max_items = 17)]
    primary_muscles: Vec<Muscle>,
    #[serde(default)]
    #[schema(max_items = 17)]
    secondary_muscles: Vec<Muscle>,
    /// Other names a set or a search may use (at most 20, each at most 80 characters).
    #[serde(default)]
    #[schema(schema_with = aliases_schema)]
    aliases: Vec<String>,
}

struct ValidExercise {
    name: String,
    category: Category,
    level: Level,
    force: Option<Force>,
    mechanic: Option<Mechanic>,
    equipment: Option<Equipment>,
    primary: Vec<Muscle>,
    secondary: Vec<Muscle>,
    aliases: Vec<String>,
    alias_slugs: Vec<String>,
}

impl ExerciseRequest {
    fn parse(self) -> Result<ValidExercise, ApiError> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: &str| {
            errors.push(FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            })
        };
        let name = self.name.trim().to_owned();
        if name.is_empty()
            || name.chars().count() > 120
            || name.contains('\0')
            || slugify(&name, 56).is_empty()
        {
            fail("name", "1 to 120 characters with a letter or digit, no NUL");
        }
        if self.primary_muscles.len() > 17 {
            fail("primary_muscles", "at most 17");
        }
        if self.secondary_muscles.len() > 17 {
            fail("secondary_muscles", "at most 17");
        }
        let mut primary = self.primary_muscles;
        primary.sort();
        primary.dedup();
        if primary.is_empty() {
            fail("primary_muscles", "name at least one muscle");
        }
        let mut secondary = self.secondary_muscles;
        secondary.sort();
        secondary.dedup();
        secondary.retain(|m| !primary.contains(m));
        let aliases: Vec<String> = self.aliases.iter().map(|a| a.trim().to_owned()).collect();
        if aliases.len() > 20
            || aliases.iter().any(|a| {
                a.is_empty()
                    || a.chars().count() > 80
                    || a.contains('\0')
                    || slugify(a, 64).is_empty()
            })
        {
            fail(
                "aliases",
                "at most 20, each 1 to 80 characters with a letter or digit",
            );
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(ValidExercise {
            alias_slugs: aliases.iter().map(|a| slugify(a, 64)).collect(),
            name,
            category: self.category,
            level: self.level,
            force: self.force,
            mechanic: self.mechanic,
            equipment: self.equipment,
            primary,
            secondary,
            aliases,
        })
    }
}

/// Who a custom exercise of `user` belongs to: a trainer's own, or their gym's (gym
/// accounts). Nobody else defines exercises.
fn owner_of(user: &AuthUser) -> Result<(OwnerKind, Uuid), ApiError> {
    match (user.role(), user.claims().gym) {
        (Role::Trainer, _) => Ok((OwnerKind::Trainer, user.id())),
        (Role::Gym, Some(gym)) => Ok((OwnerKind::Gym, gym)),
        (Role::Gym, None) => Err(ApiError::ForbiddenBecause("open a gym first")),
        _ => Err(ApiError::Forbidden),
    }
}

fn strings<T: Copy>(items: &[T], as_str: fn(T) -> &'static str) -> Vec<String> {
    items.iter().map(|i| as_str(*i).to_owned()).collect()
}

async fn emit(conn: &mut PgConnection, id: Uuid, e: &Exercise) -> Result<(), ApiError> {
    let event = CloudEvent::new(
        SOURCE,
        EXERCISE_DEFINED_V1,
        id.to_string(),
        ExerciseDefined {
            exercise_id: id,
            slug: e.slug.clone(),
            name: e.name.clone(),
            owner_kind: e.owner_kind,
            owner_id: e.owner_id,
            source_id: e.source_id.clone(),
            force: e.force,
            level: e.level,
            mechanic: e.mechanic,
            equipment: e.equipment,
            category: e.category,
            primary_muscles: e.primary_muscles.clone(),
            secondary_muscles: e.secondary_muscles.clone(),
            aliases: e.aliases.clone(),
            revision: e.revision,
        },
    );
    outbox::enqueue(conn, Topic::Exercises, &event).await?;
    Ok(())
}

/// `POST /api/exercises`: a trainer's (or a gym's) own exercise.
#[utoipa::path(
    post, path = "/api/exercises", tag = "exercises",
    summary = "Define a custom exercise (trainers for themselves, gym accounts for their gym)",
    request_body = ExerciseRequest,
    responses((status = 201, description = "Defined", body = Exercise)),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn create(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiJson(req): ApiJson<ExerciseRequest>,
) -> Result<(StatusCode, Json<Exercise>), ApiError> {
    let (kind, owner) = owner_of(&user)?;
    let e = req.parse()?;
    let id = Uuid::now_v7();
    // Private names must not collide with the library's or anyone's: a suffix from the id.
    let suffix = &Uuid::new_v4().simple().to_string()[..6];
    let slug = format!("{}-{suffix}", slugify(&e.name, 56));
    let kind_text = match kind {
        OwnerKind::Trainer => "trainer",
        OwnerKind::Gym => "gym",
    };
    let mut tx = state.pool.begin().await?;
    let row = sqlx::query_as!(
        Row,
        "insert into exercises (id, slug, name, owner_kind, owner_id, force, level, mechanic, equipment,
                                category, primary_muscles, secondary_muscles, aliases, alias_slugs, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         returning id, slug, name, owner_kind, owner_id, source_id, force, level, mechanic, equipment,
                   category, primary_muscles, secondary_muscles, aliases, revision",
        id,
        slug,
        e.name,
        kind_text,
        owner,
        e.force.map(Force::as_str),
        e.level.as_str(),
        e.mechanic.map(Mechanic::as_str),
        e.equipment.map(Equipment::as_str),
        e.category.as_str(),
        &strings(&e.primary, Muscle::as_str),
        &strings(&e.secondary, Muscle::as_str),
        &e.aliases,
        &e.alias_slugs,
        user.id()
    )
    .fetch_one(&mut *tx)
    .await?;
    let (id, exercise) = row.into_exercise()?;
    emit(&mut tx, id, &exercise).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(exercise)))
}

/// `PUT /api/exercises/{slug}`: its owner redefines a custom exercise (the slug stays).
#[utoipa::path(
    put, path = "/api/exercises/{slug}", tag = "exercises",
    summary = "Redefine a custom exercise (its owner)",
    params(("slug" = String, Path, description = "The exercise's slug")),
    request_body = ExerciseRequest,
    responses(
        (status = 200, description = "Redefined", body = Exercise),
        (status = 404, description = "No such exercise the caller may see", body = fitsync_platform::Problem)
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all, fields(user = %user.id()), err(level = "debug"))]
pub async fn update(
    State(state): State<TrainingState>,
    user: AuthUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<ExerciseRequest>,
) -> Result<Json<Exercise>, ApiError> {
    let visible = Visible::of(&state, &user).await?;
    let mut tx = state.pool.begin().await?;
    let current = fetch(&mut tx, &slug, &visible)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mine = match owner_of(&user) {
        Ok((_, owner)) => current.owner_id == Some(owner),
        Err(_) => false,
    };
    if !mine {
        return Err(ApiError::Forbidden);
    }
    let e = req.parse()?;
    let row = sqlx::query_as!(
        Row,
        "update exercises
         set name = $2, force = $3, level = $4, mechanic = $5, equipment = $6, category = $7,
             primary_muscles = $8, secondary_muscles = $9, aliases = $10, alias_slugs = $11,
             revision = revision + 1, updated_at = now()
         where id = $1
         returning id, slug, name, owner_kind, owner_id, source_id, force, level, mechanic, equipment,
                   category, primary_muscles, secondary_muscles, aliases, revision",
        current.id,
        e.name,
        e.force.map(Force::as_str),
        e.level.as_str(),
        e.mechanic.map(Mechanic::as_str),
        e.equipment.map(Equipment::as_str),
        e.category.as_str(),
        &strings(&e.primary, Muscle::as_str),
        &strings(&e.secondary, Muscle::as_str),
        &e.aliases,
        &e.alias_slugs
    )
    .fetch_one(&mut *tx)
    .await?;
    let (id, exercise) = row.into_exercise()?;
    emit(&mut tx, id, &exercise).await?;
    tx.commit().await?;
    Ok(Json(exercise))
}
