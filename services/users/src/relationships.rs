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
use uuid::Uuid;

use crate::{handlers::SOURCE, UsersState};

#[derive(Debug, Serialize, sqlx::FromRow)]
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

const COLUMNS: &str =
    "id, trainer_id, client_id, status, invited_by, created_at, responded_at, ended_at, ended_by";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    /// A trainer invites a client…
    client_id: Option<Uuid>,
    /// …or a client invites a trainer.
    trainer_id: Option<Uuid>,
}

/// `POST /api/users/relationships`
pub async fn invite(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiJson(req): ApiJson<Invite>,
) -> Result<(StatusCode, Json<Relationship>), ApiError> {
    let (trainer, client, other, other_role) = match (user.role(), req.client_id, req.trainer_id) {
        (Role::Trainer, Some(client), None) => (user.id(), client, client, Role::Client),
        (Role::Client, None, Some(trainer)) => (trainer, user.id(), trainer, Role::Trainer),
        (Role::Trainer | Role::Client, _, _) => {
            return Err(ApiError::field(
                "body",
                "a trainer names a client_id, a client names a trainer_id",
            ))
        }
        _ => return Err(ApiError::Forbidden),
    };
    crate::links::require_verified(&mut *state.pool.acquire().await?, user.id()).await?;
    let role: Option<Role> = sqlx::query_scalar("select role from users where id = $1")
        .bind(other)
        .fetch_optional(&state.pool)
        .await?;
    if role != Some(other_role) {
        let field = if other_role == Role::Client {
            "client_id"
        } else {
            "trainer_id"
        };
        return Err(ApiError::field(
            field,
            format!("is not a {}", other_role.as_str()),
        ));
    }
    let row = sqlx::query_as::<_, Relationship>(&format!(
        "insert into trainer_clients (id, trainer_id, client_id, status, invited_by)
         values ($1, $2, $3, 'invited', $4) returning {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(trainer)
    .bind(client)
    .bind(user.id())
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `GET /api/users/relationships`: the caller's, current and past.
pub async fn list(
    State(state): State<UsersState>,
    user: AuthUser,
) -> Result<Json<Vec<Relationship>>, ApiError> {
    let rows = sqlx::query_as::<_, Relationship>(&format!(
        "select {COLUMNS} from trainer_clients where trainer_id = $1 or client_id = $1 order by created_at desc"
    ))
    .bind(user.id())
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Relationship, ApiError> {
    sqlx::query_as::<_, Relationship>(&format!(
        "select {COLUMNS} from trainer_clients where id = $1 for update"
    ))
    .bind(id)
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
pub async fn accept(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Relationship>, ApiError> {
    respond(state, user, id, true).await
}

/// `POST /api/users/relationships/{id}/decline`
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
    let r = sqlx::query_as::<_, Relationship>(&format!(
        "update trainer_clients set status = $2, responded_at = now() where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(status)
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
    let was_active: bool =
        sqlx::query_scalar("select status = 'active' from trainer_clients where id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    let r = sqlx::query_as::<_, Relationship>(&format!(
        "update trainer_clients set status = 'ended', ended_at = now(), ended_by = $2 where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(by)
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
    Ok(sqlx::query_scalar(
        "select exists(select 1 from trainer_clients where trainer_id = $1 and client_id = $2 and status = 'active')",
    )
    .bind(trainer)
    .bind(client)
    .fetch_one(pool)
    .await?)
}
