//! Profiles. A client's: goals, birthdate, height, experience and health notes — the
//! last readable only by the client, their current trainer and admins (not the gym,
//! not other trainers), every such read by someone else recorded as an audit event.
//! A trainer's: bio, specialties, certifications, time zone — visible to any signed-in
//! user, since clients choose trainers by them.

use axum::{extract::State, Json};
use chrono::{Datelike, NaiveDate, Utc};
use fitsync_events::{CloudEvent, HealthDataRead, Topic, HEALTH_DATA_READ_V1};
use fitsync_platform::{outbox, ApiError, ApiJson, ApiPath, AuthUser, FieldError, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{handlers::SOURCE, relationships, Directory, UsersState};

/// The schema of `experience` (kept a string in the struct, so that a bad value is
/// reported with every other bad field at once).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Experience {
    Beginner,
    Intermediate,
    Advanced,
}

/// A client's profile, as written (the whole profile; unknown fields refused).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientProfile {
    #[schema(max_length = 2000, pattern = "^[^\\x00]*$")]
    goals: Option<String>,
    /// Must make the client 13 to 120 years old.
    birthdate: Option<NaiveDate>,
    #[schema(minimum = 50, maximum = 272)]
    height_cm: Option<f64>,
    #[schema(value_type = Option<Experience>)]
    experience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 4000, pattern = "^[^\\x00]*$")]
    health_notes: Option<String>,
}

/// Up to 20 labels of 1 to 100 characters, not all whitespace.
fn labels_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[^\\x00]*[^\\s\\x00][^\\x00]*$"))
                .max_length(Some(100)),
        )
        .max_items(Some(20))
        .build()
}

/// A trainer's profile, as written (the whole profile; unknown fields refused).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainerProfile {
    #[schema(max_length = 4000, pattern = "^[^\\x00]*$")]
    bio: Option<String>,
    #[serde(default)]
    #[schema(schema_with = labels_schema)]
    specialties: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = labels_schema)]
    certifications: Vec<String>,
    /// An IANA zone such as `Europe/Paris`.
    #[schema(pattern = "^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$", max_length = 64)]
    time_zone: Option<String>,
}

/// A client's profile, as shown. Health notes only to the client, their current trainer
/// and admins.
#[derive(Debug, Serialize, sqlx::FromRow, Default, ToSchema)]
pub struct ClientProfileView {
    goals: Option<String>,
    birthdate: Option<NaiveDate>,
    height_cm: Option<f64>,
    #[schema(value_type = Option<Experience>)]
    experience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    health_notes: Option<String>,
}

/// A trainer's profile, as shown: a directory entry for anyone signed in.
#[derive(Debug, Serialize, sqlx::FromRow, Default, ToSchema)]
pub struct TrainerProfileView {
    bio: Option<String>,
    specialties: Vec<String>,
    certifications: Vec<String>,
    time_zone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Profile {
    Client(ClientProfileView),
    Trainer(TrainerProfileView),
    None,
}

impl ClientProfile {
    fn validate(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: &str| {
            errors.push(FieldError {
                field: field.into(),
                message: message.into(),
            })
        };
        if self
            .goals
            .as_ref()
            .is_some_and(|g| g.chars().count() > 2000 || g.contains('\0'))
        {
            fail("goals", "at most 2000 characters, no NUL");
        }
        if let Some(born) = self.birthdate {
            let age = Utc::now().year() - born.year();
            if !(13..=120).contains(&age) {
                fail("birthdate", "must make you 13 to 120 years old");
            }
        }
        if self.height_cm.is_some_and(|h| !(50.0..=272.0).contains(&h)) {
            fail("height_cm", "must be between 50 and 272");
        }
        if self
            .experience
            .as_deref()
            .is_some_and(|e| !["beginner", "intermediate", "advanced"].contains(&e))
        {
            fail("experience", "must be beginner, intermediate or advanced");
        }
        if self
            .health_notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > 4000 || n.contains('\0'))
        {
            fail("health_notes", "at most 4000 characters, no NUL");
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

impl TrainerProfile {
    fn validate(&self) -> Result<(), ApiError> {
        let zone_ok = |z: &str| {
            !z.is_empty()
                && z.len() <= 64
                && z.split('/').all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
                })
        };
        if self
            .bio
            .as_ref()
            .is_some_and(|b| b.chars().count() > 4000 || b.contains('\0'))
        {
            return Err(ApiError::field("bio", "at most 4000 characters, no NUL"));
        }
        for (field, list) in [
            ("specialties", &self.specialties),
            ("certifications", &self.certifications),
        ] {
            if list.len() > 20
                || list
                    .iter()
                    .any(|s| s.trim().is_empty() || s.chars().count() > 100 || s.contains('\0'))
            {
                return Err(ApiError::field(
                    field,
                    "at most 20 entries of 1 to 100 characters",
                ));
            }
        }
        if self.time_zone.as_deref().is_some_and(|z| !zone_ok(z)) {
            return Err(ApiError::field(
                "time_zone",
                "must be an IANA zone such as Europe/Paris",
            ));
        }
        Ok(())
    }
}

async fn role_of(state: &UsersState, id: Uuid) -> Result<Role, ApiError> {
    sqlx::query_scalar!(
        r#"select role as "role: Role" from users where id = $1"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)
}

async fn load(state: &UsersState, id: Uuid, role: Role) -> Result<Profile, ApiError> {
    Ok(match role {
        Role::Client => Profile::Client(
            sqlx::query_as!(
                ClientProfileView,
                r#"select goals, birthdate, height_cm::float8 as height_cm, experience, health_notes
                   from client_profiles where user_id = $1"#,
                id
            )
            .fetch_optional(&state.pool)
            .await?
            .unwrap_or_default(),
        ),
        Role::Trainer => Profile::Trainer(
            sqlx::query_as!(
                TrainerProfileView,
                "select bio, specialties, certifications, time_zone from trainer_profiles where user_id = $1",
                id
            )
            .fetch_optional(&state.pool)
            .await?
            .unwrap_or_default(),
        ),
        _ => Profile::None,
    })
}

/// `GET /api/profiles/me`
#[utoipa::path(
    get, path = "/api/profiles/me", tag = "profiles",
    summary = "The caller's profile",
    responses((status = 200, description = "The profile", body = Profile)),
    security(("bearer" = []))
)]
pub async fn mine(
    State(state): State<UsersState>,
    user: AuthUser,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(load(&state, user.id(), user.role()).await?))
}

/// `GET /api/profiles/{user_id}`
#[utoipa::path(
    get, path = "/api/profiles/{id}", tag = "profiles",
    summary = "A profile: trainers' to anyone signed in; clients' by the client-data policy, health notes to the client, their trainer and admins",
    params(("id" = Uuid, Path, description = "The user")),
    responses((status = 200, description = "The profile", body = Profile), (status = 404, description = "No such user", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Profile>, ApiError> {
    let role = role_of(&state, id).await?;
    if role != Role::Client {
        // Trainer profiles are a public directory for signed-in users.
        return Ok(Json(load(&state, id, role).await?));
    }
    user.may_read_client(id, &Directory(&state.pool)).await?;
    let mut profile = load(&state, id, role).await?;
    let sees_health = match user.role() {
        _ if user.id() == id => true,
        Role::Admin => true,
        Role::Trainer => relationships::trains(&state.pool, user.id(), id).await?,
        _ => false,
    };
    if let Profile::Client(p) = &mut profile {
        if !sees_health {
            p.health_notes = None;
        } else if user.id() != id && p.health_notes.is_some() {
            audit(&state, &user, id).await?;
        }
    }
    Ok(Json(profile))
}

/// Records who read whose health data, through the outbox (searchable by admins).
async fn audit(state: &UsersState, reader: &AuthUser, client: Uuid) -> Result<(), ApiError> {
    let mut tx = state.pool.begin().await?;
    let event = CloudEvent::new(
        SOURCE,
        HEALTH_DATA_READ_V1,
        client.to_string(),
        HealthDataRead {
            client_id: client,
            reader_id: reader.id(),
            reader_role: reader.role().as_str().to_owned(),
            at: Utc::now(),
        },
    );
    outbox::enqueue(&mut tx, Topic::Users, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// `PUT /api/profiles/me/client`: the whole profile, for a client.
#[utoipa::path(
    put, path = "/api/profiles/me/client", tag = "profiles",
    summary = "Replace the caller's client profile (clients)",
    request_body = ClientProfile,
    responses((status = 200, description = "The profile", body = Profile)),
    security(("bearer" = []))
)]
pub async fn update_client(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiJson(p): ApiJson<ClientProfile>,
) -> Result<Json<Profile>, ApiError> {
    if user.role() != Role::Client {
        return Err(ApiError::ForbiddenBecause(
            "only clients have a client profile",
        ));
    }
    p.validate()?;
    sqlx::query!(
        "insert into client_profiles (user_id, goals, birthdate, height_cm, experience, health_notes)
         values ($1, $2, $3, $4::float8, $5, $6)
         on conflict (user_id) do update set goals = $2, birthdate = $3, height_cm = $4::float8,
           experience = $5, health_notes = $6, updated_at = now()",
        user.id(),
        p.goals.as_deref(),
        p.birthdate,
        p.height_cm,
        p.experience.as_deref(),
        p.health_notes.as_deref()
    )
    .execute(&state.pool)
    .await?;
    Ok(Json(load(&state, user.id(), user.role()).await?))
}

/// `PUT /api/profiles/me/trainer`: the whole profile, for a trainer.
#[utoipa::path(
    put, path = "/api/profiles/me/trainer", tag = "profiles",
    summary = "Replace the caller's trainer profile (trainers)",
    request_body = TrainerProfile,
    responses((status = 200, description = "The profile", body = Profile)),
    security(("bearer" = []))
)]
pub async fn update_trainer(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiJson(p): ApiJson<TrainerProfile>,
) -> Result<Json<Profile>, ApiError> {
    if user.role() != Role::Trainer {
        return Err(ApiError::ForbiddenBecause(
            "only trainers have a trainer profile",
        ));
    }
    p.validate()?;
    sqlx::query!(
        "insert into trainer_profiles (user_id, bio, specialties, certifications, time_zone)
         values ($1, $2, $3, $4, $5)
         on conflict (user_id) do update set bio = $2, specialties = $3, certifications = $4,
           time_zone = $5, updated_at = now()",
        user.id(),
        p.bio.as_deref(),
        &p.specialties,
        &p.certifications,
        p.time_zone.as_deref()
    )
    .execute(&state.pool)
    .await?;
    Ok(Json(load(&state, user.id(), user.role()).await?))
}
