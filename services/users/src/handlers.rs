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
use uuid::Uuid;

use crate::{
    domain::{display_name, Email, NewPassword},
    email_flow, password,
    tokens::TokenResponse,
    Directory, UsersState,
};

pub const SOURCE: &str = "/fitsync/users";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    email: String,
    password: String,
    display_name: String,
    #[serde(default)]
    role: Option<Role>,
}

#[derive(Debug, Serialize)]
pub struct RegisterResponse {
    user_id: Uuid,
    #[serde(flatten)]
    token: TokenResponse,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct User {
    id: Uuid,
    email: String,
    role: Role,
    display_name: String,
    email_verified: bool,
    gym_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

/// `POST /api/auth/register`: a client, trainer or gym-owner account, signed in at once;
/// a verification email follows. Throttled per address. An address already registered
/// gets 409: sign-up reveals that an account exists, as sign-in and password reset
/// do not.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn register(
    State(state): State<UsersState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    state.limits.admit_registration(peer.ip()).await?;
    let email = Email::parse(&req.email)?;
    let password = NewPassword::parse(req.password)?;
    let name = display_name(&req.display_name)?;
    let role = req.role.unwrap_or(Role::Client);
    if !matches!(role, Role::Client | Role::Trainer | Role::Gym) {
        return Err(ApiError::field("role", "must be client, trainer or gym"));
    }
    let hash = password::hash(password.expose().to_owned()).await?;
    let id = Uuid::now_v7();

    let mut tx = state.pool.begin().await?;
    sqlx::query("insert into users (id, email, password_hash, role, display_name) values ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(email.as_str())
        .bind(&hash)
        .bind(role.as_str())
        .bind(&name)
        .execute(&mut *tx)
        .await?;
    let event = CloudEvent::new(
        SOURCE,
        USER_REGISTERED_V1,
        format!("user/{id}"),
        UserRegistered {
            user_id: id,
            role: role.as_str().to_owned(),
            display_name: name,
            registered_at: Utc::now(),
        },
    );
    outbox::enqueue(&mut tx, Topic::Users, &event).await?;
    email_flow::after_registration(&mut tx, &state, id, email.as_str()).await?;
    tx.commit().await?;

    let (access_token, expires_in) = state.auth.keys().issue(id, role, None)?;
    let refresh_token = state.refresh.issue(id, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            user_id: id,
            token: TokenResponse {
                access_token,
                token_type: "Bearer",
                expires_in,
                refresh_token: Some(refresh_token),
            },
        }),
    ))
}

/// `GET /api/users/me`
pub async fn me(State(state): State<UsersState>, user: AuthUser) -> Result<Json<User>, ApiError> {
    fetch_user(&state, user.id()).await
}

/// `GET /api/users/{id}`: yourself, your client (as their trainer), your gym's member
/// (as its owner), anyone (as an admin).
pub async fn get_user(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<User>, ApiError> {
    user.may_read_client(id, &Directory(&state.pool)).await?;
    fetch_user(&state, id).await
}

async fn fetch_user(state: &UsersState, id: Uuid) -> Result<Json<User>, ApiError> {
    sqlx::query_as::<_, User>(
        "select id, email, role, display_name, email_verified_at is not null as email_verified, gym_id, created_at
         from users where id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?
    .map(Json)
    .ok_or(ApiError::NotFound)
}
