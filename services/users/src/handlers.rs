use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use fitsync_events::{CloudEvent, Topic, UserRegistered, USER_REGISTERED_V1};
use fitsync_platform::{outbox, ApiError, ApiJson, ApiPath, AuthUser, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    domain::{display_name, Email, NewPassword},
    email_flow, password, Directory, UsersState,
};

pub const SOURCE: &str = "/fitsync/users";

/// The roles anyone may register with.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SelfServiceRole {
    Client,
    Trainer,
    Gym,
}

impl From<SelfServiceRole> for Role {
    fn from(role: SelfServiceRole) -> Self {
        match role {
            SelfServiceRole::Client => Role::Client,
            SelfServiceRole::Trainer => Role::Trainer,
            SelfServiceRole::Gym => Role::Gym,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(
        pattern = "^[^@\\s\\x00-\\x1f\\x7f-\\x9f]+@[^@\\s\\x00-\\x1f\\x7f-\\x9f.][^@\\s\\x00-\\x1f\\x7f-\\x9f]*\\.[^@\\s\\x00-\\x1f\\x7f-\\x9f]*[^@\\s\\x00-\\x1f\\x7f-\\x9f.]$",
        max_length = 254,
        example = "ana@example.com"
    )]
    email: String,
    #[schema(min_length = 10, max_length = 128)]
    password: String,
    #[schema(pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$", max_length = 100)]
    display_name: String,
    /// Default: client.
    #[serde(default)]
    role: Option<SelfServiceRole>,
}

/// The same answer whether the address was free or taken (no account enumeration).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    status: &'static str,
    next: &'static str,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct User {
    id: Uuid,
    email: String,
    role: Role,
    display_name: String,
    email_verified: bool,
    gym_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

/// `POST /api/auth/register`: a client, trainer or gym-owner account. Always 202, whether
/// the address was free (a verification email follows) or already registered (its
/// owner gets an email with a password-reset link), so sign-up, like sign-in and
/// password reset, reveals no account. Throttled per address. Then sign in.
#[utoipa::path(
    post, path = "/api/auth/register", tag = "auth",
    summary = "Create an account (always 202: the same answer whether the address was free or taken)",
    request_body = RegisterRequest,
    responses((status = 202, description = "Accepted; check your email", body = RegisterResponse))
)]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn register(
    State(state): State<UsersState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    state
        .limits
        .admit(crate::limits::Flow::Registration, peer.ip())
        .await?;
    let email = Email::parse(&req.email)?;
    let password = NewPassword::parse(req.password)?;
    let name = display_name(&req.display_name)?;
    let role: Role = req.role.map_or(Role::Client, Role::from);
    // Hashed whether or not the address is taken: both answers cost the same.
    let hash = password::hash(password.expose().to_owned()).await?;
    let id = Uuid::now_v7();

    let mut tx = state.pool.begin().await?;
    let inserted = sqlx::query!(
        "insert into users (id, email, password_hash, role, display_name) values ($1, $2, $3, $4, $5)
         on conflict do nothing",
        id,
        email.as_str(),
        &hash,
        role.as_str(),
        &name
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        let event = CloudEvent::new(
            SOURCE,
            USER_REGISTERED_V1,
            // Keyed by the bare user id, like every other event about this user: one
            // user's events share a partition, in order.
            id.to_string(),
            UserRegistered {
                user_id: id,
                role: role.as_str().to_owned(),
                display_name: name,
                registered_at: Utc::now(),
            },
        );
        outbox::enqueue(&mut tx, Topic::Users, &event).await?;
        email_flow::after_registration(&mut tx, &state, id, email.as_str()).await?;
    } else {
        // The owner of the address learns someone tried, with a way back in; the caller
        // learns nothing.
        let row = sqlx::query!(
            "select id, email from users where lower(email) = $1",
            email.as_str()
        )
        .fetch_one(&mut *tx)
        .await?;
        let (existing, address) = (row.id, row.email);
        email_flow::account_exists(&mut tx, &state, existing, &address).await?;
    }
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RegisterResponse {
            status: "accepted",
            next: "Check your email, then sign in at /api/auth/token.",
        }),
    ))
}

/// `GET /api/users/me`
#[utoipa::path(
    get, path = "/api/users/me", tag = "users",
    summary = "The caller's account",
    responses((status = 200, description = "The account", body = User)),
    security(("bearer" = []))
)]
pub async fn me(State(state): State<UsersState>, user: AuthUser) -> Result<Json<User>, ApiError> {
    fetch_user(&state, user.id()).await
}

/// `GET /api/users/{id}`: yourself, your client (as their trainer), your gym's member
/// (as its owner), anyone (as an admin).
#[utoipa::path(
    get, path = "/api/users/{id}", tag = "users",
    summary = "An account: yourself, your client (as their trainer), your gym's member, anyone (admins)",
    params(("id" = Uuid, Path, description = "The user")),
    responses((status = 200, description = "The account", body = User), (status = 404, description = "No such user", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn get_user(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<User>, ApiError> {
    user.may_read_client(id, &Directory(&state.pool)).await?;
    fetch_user(&state, id).await
}

async fn fetch_user(state: &UsersState, id: Uuid) -> Result<Json<User>, ApiError> {
    sqlx::query_as!(
        User,
        r#"select id, email, role as "role: Role", display_name,
                  email_verified_at is not null as "email_verified!", gym_id, created_at
           from users where id = $1"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .map(Json)
    .ok_or(ApiError::NotFound)
}
