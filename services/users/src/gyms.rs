//! Gyms (tenants): an owner (role `gym`) creates one, invites trainers and clients by
//! email, and removes members. A user belongs to at most one gym. Joining and leaving
//! are events, from which other services project what a gym may see.

use axum::{extract::State, http::StatusCode, Json};
use chrono::{DateTime, Duration, Utc};
use fitsync_events::{
    CloudEvent, GymMembershipChanged, Topic, GYM_MEMBER_JOINED_V1, GYM_MEMBER_LEFT_V1,
};
use fitsync_platform::{outbox, ApiError, ApiJson, ApiPath, AuthUser, Role};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{domain::Email, handlers::SOURCE, UsersState};

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Gym {
    id: Uuid,
    name: String,
    owner_id: Uuid,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGym {
    #[schema(pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$", max_length = 100)]
    name: String,
}

/// Emits a join or a leave, with the next access version; a leave is also recorded at
/// once in Redis, as a relationship's end is.
pub(crate) async fn emit(
    conn: &mut PgConnection,
    state: &UsersState,
    event_type: &'static str,
    gym: Uuid,
    user: Uuid,
    role: Role,
) -> Result<(), ApiError> {
    let version = crate::links::next_version(conn).await?;
    if event_type == GYM_MEMBER_LEFT_V1 {
        state
            .auth
            .revocations()
            .revoke_access("gym", gym, user, version, state.access_revocation_ttl_secs)
            .await?;
    }
    let event = CloudEvent::new(
        SOURCE,
        event_type,
        user.to_string(),
        GymMembershipChanged {
            gym_id: gym,
            user_id: user,
            role: role.as_str().to_owned(),
            at: Utc::now(),
            version,
        },
    );
    outbox::enqueue(conn, Topic::Users, &event).await?;
    Ok(())
}

/// `POST /api/gyms`: a gym owner creates their gym (once).
#[utoipa::path(
    post, path = "/api/gyms", tag = "gyms",
    summary = "Create the caller's gym (gym owners, once)",
    request_body = NewGym,
    responses((status = 201, description = "Created", body = Gym), (status = 409, description = "You already have a gym", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiJson(req): ApiJson<NewGym>,
) -> Result<(StatusCode, Json<Gym>), ApiError> {
    user.require(&[Role::Gym])?;
    let name = req.name.trim();
    if name.is_empty() || req.name.chars().count() > 100 || req.name.contains('\0') {
        return Err(ApiError::field("name", "must be 1 to 100 characters"));
    }
    let mut tx = state.pool.begin().await?;
    crate::links::require_verified(&mut tx, user.id()).await?;
    let current: Option<Uuid> = sqlx::query_scalar!(
        "select gym_id from users where id = $1 for update",
        user.id()
    )
    .fetch_one(&mut *tx)
    .await?;
    if current.is_some() {
        return Err(ApiError::Conflict("you already have a gym".into()));
    }
    let gym = sqlx::query_as!(
        Gym,
        "insert into gyms (id, name, owner_id) values ($1, $2, $3) returning id, name, owner_id, created_at",
        Uuid::now_v7(),
        name,
        user.id()
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "update users set gym_id = $1 where id = $2",
        gym.id,
        user.id()
    )
    .execute(&mut *tx)
    .await?;
    emit(
        &mut tx,
        &state,
        GYM_MEMBER_JOINED_V1,
        gym.id,
        user.id(),
        Role::Gym,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(gym)))
}

/// The gym's owner, or an admin.
async fn manages(state: &UsersState, user: &AuthUser, gym: Uuid) -> Result<(), ApiError> {
    let owner: Option<Uuid> = sqlx::query_scalar!("select owner_id from gyms where id = $1", gym)
        .fetch_optional(&state.pool)
        .await?;
    match owner {
        None => Err(ApiError::NotFound),
        Some(_) if user.role() == Role::Admin => Ok(()),
        Some(owner) if owner == user.id() => Ok(()),
        Some(_) => Err(ApiError::Forbidden),
    }
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Member {
    id: Uuid,
    display_name: String,
    role: Role,
}

/// `GET /api/gyms/{id}/members`: for its owner and admins.
#[utoipa::path(
    get, path = "/api/gyms/{id}/members", tag = "gyms",
    summary = "A gym's members (its owner, admins)",
    params(("id" = Uuid, Path, description = "The gym")),
    responses((status = 200, description = "Members", body = Vec<Member>), (status = 404, description = "No such gym", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn members(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(gym): ApiPath<Uuid>,
) -> Result<Json<Vec<Member>>, ApiError> {
    manages(&state, &user, gym).await?;
    let rows = sqlx::query_as!(
        Member,
        r#"select id, display_name, role as "role: Role" from users where gym_id = $1 order by role, display_name"#,
        gym
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// Who a gym invites.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitedRole {
    Trainer,
    Client,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    #[schema(
        pattern = "^[^@\\s\\x00-\\x1f\\x7f-\\x9f]+@[^@\\s\\x00-\\x1f\\x7f-\\x9f.][^@\\s\\x00-\\x1f\\x7f-\\x9f]*\\.[^@\\s\\x00-\\x1f\\x7f-\\x9f]*[^@\\s\\x00-\\x1f\\x7f-\\x9f.]$",
        max_length = 254
    )]
    email: String,
    role: InvitedRole,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Invitation {
    id: Uuid,
    gym_id: Uuid,
    email: String,
    role: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
}

/// `POST /api/gyms/{id}/invitations`: invite a trainer or client by email (14 days).
#[utoipa::path(
    post, path = "/api/gyms/{id}/invitations", tag = "gyms",
    summary = "Invite a trainer or a client by email (the gym's owner, admins)",
    params(("id" = Uuid, Path, description = "The gym")),
    request_body = NewInvitation,
    responses((status = 201, description = "Invited", body = Invitation), (status = 404, description = "No such gym", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn invite(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(gym): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    manages(&state, &user, gym).await?;
    crate::links::require_verified(&mut *state.pool.acquire().await?, user.id()).await?;
    let email = Email::parse(&req.email)?;
    let role = match req.role {
        InvitedRole::Trainer => Role::Trainer,
        InvitedRole::Client => Role::Client,
    };
    let row = sqlx::query_as!(
        Invitation,
        "insert into gym_invitations (id, gym_id, email, role, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, $6) returning id, gym_id, email, role, created_at, expires_at, accepted_at",
        Uuid::now_v7(),
        gym,
        email.as_str(),
        role.as_str(),
        user.id(),
        Utc::now() + Duration::days(14)
    )
    .fetch_one(&state.pool)
    .await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `GET /api/gyms/{id}/invitations`: the invitations a gym has sent, newest first.
#[utoipa::path(
    get, path = "/api/gyms/{id}/invitations", tag = "gyms",
    summary = "The invitations a gym has sent, open, accepted or expired (the gym's owner, admins)",
    params(("id" = Uuid, Path, description = "The gym")),
    responses((status = 200, description = "Invitations, newest first (at most 500)", body = Vec<Invitation>), (status = 404, description = "No such gym", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn sent_invitations(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(gym): ApiPath<Uuid>,
) -> Result<Json<Vec<Invitation>>, ApiError> {
    manages(&state, &user, gym).await?;
    let rows = sqlx::query_as::<_, Invitation>(
        "select id, gym_id, email, role, created_at, expires_at, accepted_at from gym_invitations
         where gym_id = $1 order by created_at desc, id desc limit 500",
    )
    .bind(gym)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// `GET /api/gyms/invitations`: open invitations addressed to the caller's email.
#[utoipa::path(
    get, path = "/api/gyms/invitations", tag = "gyms",
    summary = "Open invitations to the caller's address",
    responses((status = 200, description = "Invitations", body = Vec<Invitation>)),
    security(("bearer" = []))
)]
pub async fn my_invitations(
    State(state): State<UsersState>,
    user: AuthUser,
) -> Result<Json<Vec<Invitation>>, ApiError> {
    let rows = sqlx::query_as!(
        Invitation,
        "select id, gym_id, email, role, created_at, expires_at, accepted_at from gym_invitations
         where lower(email) = (select lower(email) from users where id = $1)
           and accepted_at is null and expires_at > now()
         order by created_at desc",
        user.id()
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// `POST /api/gyms/invitations/{id}/accept`: by the invited address, in the invited role.
#[utoipa::path(
    post, path = "/api/gyms/invitations/{id}/accept", tag = "gyms",
    summary = "Accept an invitation (the invited address, in the invited role)",
    params(("id" = Uuid, Path, description = "The invitation")),
    responses((status = 200, description = "Joined", body = Invitation), (status = 404, description = "No such invitation to you", body = fitsync_platform::Problem), (status = 409, description = "Not open, another role, or already in a gym", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn accept(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Invitation>, ApiError> {
    if user.role() == Role::Service {
        return Err(ApiError::ForbiddenBecause("a service account joins no gym"));
    }
    let mut tx = state.pool.begin().await?;
    let row = sqlx::query!(
        r#"select email, role as "role: Role", gym_id from users where id = $1 for update"#,
        user.id()
    )
    .fetch_one(&mut *tx)
    .await?;
    let (email, role, gym_id) = (row.email, row.role, row.gym_id);
    let invitation = sqlx::query_as!(
        Invitation,
        "select id, gym_id, email, role, created_at, expires_at, accepted_at from gym_invitations where id = $1 and lower(email) = lower($2) for update",
        id,
        &email
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    if invitation.accepted_at.is_some() || invitation.expires_at <= Utc::now() {
        return Err(ApiError::Conflict(
            "the invitation is no longer open".into(),
        ));
    }
    if invitation.role != role.as_str() {
        return Err(ApiError::Conflict(format!(
            "the invitation is for a {}",
            invitation.role
        )));
    }
    if gym_id.is_some() {
        return Err(ApiError::Conflict("you already belong to a gym".into()));
    }
    crate::links::require_verified(&mut tx, user.id()).await?;
    sqlx::query!(
        "update users set gym_id = $1 where id = $2",
        invitation.gym_id,
        user.id()
    )
    .execute(&mut *tx)
    .await?;
    let invitation = sqlx::query_as!(
        Invitation,
        "update gym_invitations set accepted_at = now(), accepted_by = $2 where id = $1 returning id, gym_id, email, role, created_at, expires_at, accepted_at",
        id,
        user.id()
    )
    .fetch_one(&mut *tx)
    .await?;
    emit(
        &mut tx,
        &state,
        GYM_MEMBER_JOINED_V1,
        invitation.gym_id,
        user.id(),
        role,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(invitation))
}

/// `POST /api/gyms/{id}/members/{user_id}/remove`: by the owner or an admin, or a
/// member leaving; the gym loses access to their data.
#[utoipa::path(
    post, path = "/api/gyms/{id}/members/{user_id}/remove", tag = "gyms",
    summary = "Remove a member (the owner, admins) or leave (the member)",
    params(("id" = Uuid, Path, description = "The gym"), ("user_id" = Uuid, Path, description = "The member")),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such member", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath((gym, member)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    if member != user.id() {
        manages(&state, &user, gym).await?;
    }
    let mut tx = state.pool.begin().await?;
    let role: Option<Role> = sqlx::query_scalar!(
        r#"update users set gym_id = null where id = $1 and gym_id = $2
           and id <> (select owner_id from gyms where id = $2)
         returning role as "role: Role""#,
        member,
        gym
    )
    .fetch_optional(&mut *tx)
    .await?;
    let role = role.ok_or(ApiError::NotFound)?;
    emit(&mut tx, &state, GYM_MEMBER_LEFT_V1, gym, member, role).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `user` belongs to `gym` (the users service's own check).
pub async fn member_of(pool: &sqlx::PgPool, gym: Uuid, user: Uuid) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from users where id = $1 and gym_id = $2) as "exists!""#,
        user,
        gym
    )
    .fetch_one(pool)
    .await?)
}
