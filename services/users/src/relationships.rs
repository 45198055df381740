//! Trainer–client relationships: one side invites, the other accepts or declines,
//! either ends it. History is kept. Starting and ending are events on the change
//! stream, from which every other service projects who may see whose data.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Utc};
use fitsync_events::{
    CloudEvent, RelationshipChanged, Topic, RELATIONSHIP_ENDED_V1, RELATIONSHIP_STARTED_V1,
};
use fitsync_platform::{outbox, ApiError, ApiJson, ApiPath, AuthUser, Role};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{handlers::SOURCE, UsersState};

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Relationship {
    id: Uuid,
    trainer_id: Uuid,
    client_id: Uuid,
    status: String,
    invited_by: Uuid,
    created_at: DateTime<Utc>,
    responded_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    ended_by: Option<Uuid>,
}

/// A trainer invites a client, or a client invites a trainer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Invite {
    Client(InviteClient),
    Trainer(InviteTrainer),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteClient {
    client_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteTrainer {
    trainer_id: Uuid,
}

/// `POST /api/users/relationships`
#[utoipa::path(
    post, path = "/api/users/relationships", tag = "relationships",
    summary = "Invite a client (as a trainer) or a trainer (as a client)",
    request_body = Invite,
    responses((status = 201, description = "Invited", body = Relationship), (status = 404, description = "No such client or trainer", body = fitsync_platform::Problem), (status = 409, description = "An open relationship exists", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn invite(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiJson(req): ApiJson<Invite>,
) -> Result<(StatusCode, Json<Relationship>), ApiError> {
    let (trainer, client, other, other_role) = match (user.role(), req) {
        (Role::Trainer, Invite::Client(c)) => (user.id(), c.client_id, c.client_id, Role::Client),
        (Role::Client, Invite::Trainer(t)) => {
            (t.trainer_id, user.id(), t.trainer_id, Role::Trainer)
        }
        (Role::Trainer | Role::Client, _) => {
            return Err(ApiError::ForbiddenBecause(
                "a trainer invites a client, a client invites a trainer",
            ))
        }
        _ => return Err(ApiError::Forbidden),
    };
    crate::links::require_verified(&mut *state.pool.acquire().await?, user.id()).await?;
    let role: Option<Role> = sqlx::query_scalar!(
        r#"select role as "role: Role" from users where id = $1"#,
        other
    )
    .fetch_optional(&state.pool)
    .await?;
    if role != Some(other_role) {
        // No such client (or trainer).
        return Err(ApiError::NotFound);
    }
    let row = sqlx::query_as!(
        Relationship,
        "insert into trainer_clients (id, trainer_id, client_id, status, invited_by)
         values ($1, $2, $3, 'invited', $4) returning id, trainer_id, client_id, status, invited_by, created_at, responded_at, ended_at, ended_by",
        Uuid::now_v7(),
        trainer,
        client,
        user.id()
    )
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `GET /api/users/relationships`: the caller's, current and past.
#[utoipa::path(
    get, path = "/api/users/relationships", tag = "relationships",
    summary = "The caller's relationships, current and past",
    responses((status = 200, description = "Relationships", body = Vec<Relationship>)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<UsersState>,
    user: AuthUser,
) -> Result<Json<Vec<Relationship>>, ApiError> {
    let rows = sqlx::query_as!(
        Relationship,
        "select id, trainer_id, client_id, status, invited_by, created_at, responded_at, ended_at, ended_by from trainer_clients where trainer_id = $1 or client_id = $1 order by created_at desc",
        user.id()
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Relationship, ApiError> {
    sqlx::query_as!(
        Relationship,
        "select id, trainer_id, client_id, status, invited_by, created_at, responded_at, ended_at, ended_by from trainer_clients where id = $1 for update",
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(ApiError::NotFound)
}

/// Not a party to it: as if it did not exist.
fn party(user: &AuthUser, r: &Relationship) -> Result<(), ApiError> {
    if user.id() == r.trainer_id || user.id() == r.client_id || user.role() == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Emits a start or end, with the next access version. An end is also recorded at once
/// in Redis (before the transaction commits), where every service's authorization
/// sees it whether or not the change stream is flowing.
async fn emit(
    conn: &mut PgConnection,
    state: &UsersState,
    event_type: &'static str,
    r: &Relationship,
) -> Result<(), ApiError> {
    let version = crate::links::next_version(conn).await?;
    if event_type == RELATIONSHIP_ENDED_V1 {
        state
            .auth
            .revocations()
            .revoke_access(
                "trainer",
                r.trainer_id,
                r.client_id,
                version,
                state.access_revocation_ttl_secs,
            )
            .await?;
    }
    let event = CloudEvent::new(
        SOURCE,
        event_type,
        r.client_id.to_string(),
        RelationshipChanged {
            relationship_id: r.id,
            trainer_id: r.trainer_id,
            client_id: r.client_id,
            at: Utc::now(),
            version,
        },
    );
    outbox::enqueue(conn, Topic::Users, &event).await?;
    Ok(())
}

/// `POST /api/users/relationships/{id}/accept`: by the invited side only.
#[utoipa::path(
    post, path = "/api/users/relationships/{id}/accept", tag = "relationships",
    summary = "Accept an invitation (the invited side)",
    params(("id" = Uuid, Path, description = "The relationship")),
    responses((status = 200, description = "Active", body = Relationship), (status = 404, description = "No such relationship of yours", body = fitsync_platform::Problem), (status = 409, description = "Not open", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn accept(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Relationship>, ApiError> {
    respond(state, user, id, true).await
}

/// `POST /api/users/relationships/{id}/decline`
#[utoipa::path(
    post, path = "/api/users/relationships/{id}/decline", tag = "relationships",
    summary = "Decline an invitation (the invited side)",
    params(("id" = Uuid, Path, description = "The relationship")),
    responses((status = 200, description = "Declined", body = Relationship), (status = 404, description = "No such relationship of yours", body = fitsync_platform::Problem), (status = 409, description = "Not open", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn decline(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Relationship>, ApiError> {
    respond(state, user, id, false).await
}

async fn respond(
    state: UsersState,
    user: AuthUser,
    id: Uuid,
    accept: bool,
) -> Result<Json<Relationship>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let r = lock(&mut tx, id).await?;
    party(&user, &r)?;
    let invited = if r.invited_by == r.trainer_id {
        r.client_id
    } else {
        r.trainer_id
    };
    if user.id() != invited {
        return Err(ApiError::Forbidden);
    }
    if r.status != "invited" {
        return Err(ApiError::Conflict(format!(
            "the relationship is {}",
            r.status
        )));
    }
    if accept {
        crate::links::require_verified(&mut tx, user.id()).await?;
    }
    let status = if accept { "active" } else { "declined" };
    let r = sqlx::query_as!(
        Relationship,
        "update trainer_clients set status = $2, responded_at = now() where id = $1 returning id, trainer_id, client_id, status, invited_by, created_at, responded_at, ended_at, ended_by",
        id,
        status
    )
    .fetch_one(&mut *tx)
    .await?;
    if accept {
        emit(&mut tx, &state, RELATIONSHIP_STARTED_V1, &r).await?;
    }
    tx.commit().await?;
    Ok(Json(r))
}

/// `POST /api/users/relationships/{id}/end`: either side (or an admin); the trainer
/// loses access to the client's data.
#[utoipa::path(
    post, path = "/api/users/relationships/{id}/end", tag = "relationships",
    summary = "End a relationship (either side, or an admin); access ends at once",
    params(("id" = Uuid, Path, description = "The relationship")),
    responses((status = 200, description = "Ended", body = Relationship), (status = 404, description = "No such relationship of yours", body = fitsync_platform::Problem), (status = 409, description = "Already over", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn end(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Relationship>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let r = lock(&mut tx, id).await?;
    party(&user, &r)?;
    if r.status != "active" && r.status != "invited" {
        return Err(ApiError::Conflict(format!(
            "the relationship is {}",
            r.status
        )));
    }
    let r = close(&mut tx, &state, id, user.id()).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// Ends an open relationship (locked by the caller), `by` whom; an active one's end is
/// an event.
pub(crate) async fn close(
    conn: &mut PgConnection,
    state: &UsersState,
    id: Uuid,
    by: Uuid,
) -> Result<Relationship, ApiError> {
    let was_active: bool = sqlx::query_scalar!(
        r#"select status = 'active' as "active!" from trainer_clients where id = $1"#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    let r = sqlx::query_as!(
        Relationship,
        "update trainer_clients set status = 'ended', ended_at = now(), ended_by = $2 where id = $1 returning id, trainer_id, client_id, status, invited_by, created_at, responded_at, ended_at, ended_by",
        id,
        by
    )
    .fetch_one(&mut *conn)
    .await?;
    if was_active {
        emit(conn, state, RELATIONSHIP_ENDED_V1, &r).await?;
    }
    Ok(r)
}

/// Whether `trainer` currently trains `client` (the users service's own check; other
/// services ask their projection).
pub async fn trains(pool: &sqlx::PgPool, trainer: Uuid, client: Uuid) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from trainer_clients where trainer_id = $1 and client_id = $2 and status = 'active') as "exists!""#,
        trainer,
        client
    )
    .fetch_one(pool)
    .await?)
}
