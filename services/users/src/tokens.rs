//! The OAuth2 token endpoint (RFC 6749) and what goes with it: logout, log out
//! everywhere, service accounts, JWKS and OpenID discovery.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, StatusCode},
    Form, Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use fitsync_platform::{ApiError, ApiJson, ApiPath, AuthUser, Role};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    domain::Email,
    limits::{Account, Flow},
    password, UsersState,
};

#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: String,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The token endpoint's form, one shape per grant (RFC 6749).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the form; `TokenRequest` reads it
pub enum TokenForm {
    Password(PasswordGrant),
    Refresh(RefreshGrant),
    ClientCredentials(ClientCredentialsGrant),
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub enum PasswordGrantType {
    #[serde(rename = "password")]
    Password,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub enum RefreshGrantType {
    #[serde(rename = "refresh_token")]
    RefreshToken,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub enum ClientCredentialsGrantType {
    #[serde(rename = "client_credentials")]
    ClientCredentials,
}

/// Sign in with an email address and a password.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PasswordGrant {
    grant_type: PasswordGrantType,
    #[schema(max_length = 254)]
    username: String,
    password: String,
}

/// Exchange a refresh token (single use) for new tokens.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RefreshGrant {
    grant_type: RefreshGrantType,
    refresh_token: String,
}

/// A service account's credentials (or in an HTTP Basic `Authorization` header).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ClientCredentialsGrant {
    grant_type: ClientCredentialsGrantType,
    #[schema(max_length = 63)]
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

type FormResult = Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>;

/// `POST /api/auth/token` (form-encoded): `password`, `refresh_token` and
/// `client_credentials` grants.
#[utoipa::path(
    post, path = "/api/auth/token", tag = "auth",
    summary = "OAuth2 token endpoint: password, refresh_token and client_credentials grants",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Tokens", body = TokenResponse), (status = 401, description = "Invalid credentials or token", body = fitsync_platform::Problem))
)]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn token(
    State(state): State<UsersState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: FormResult,
) -> Result<Json<TokenResponse>, ApiError> {
    let Form(req) = form.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    match req.grant_type.as_str() {
        "password" => password_grant(&state, peer, req).await,
        "refresh_token" => refresh_grant(&state, peer, req).await,
        "client_credentials" => client_credentials_grant(&state, peer, &headers, req).await,
        _ => Err(ApiError::BadRequest("unsupported_grant_type".into())),
    }
    .map(Json)
}

async fn password_grant(
    state: &UsersState,
    peer: SocketAddr,
    req: TokenRequest,
) -> Result<TokenResponse, ApiError> {
    let (Some(username), Some(password)) = (req.username, req.password) else {
        return Err(ApiError::BadRequest(
            "username and password are required".into(),
        ));
    };
    let (id, role, gym) = sign_in(state, peer, &username, password).await?;
    let (access_token, expires_in) = state.keys.issue(id, role, gym)?;
    let refresh_token = state.refresh.issue(id).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(refresh_token),
    })
}

/// Checks a password sign-in (rate limits, lockout, Argon2 off the runtime): the
/// account's id, role and gym.
pub(crate) async fn sign_in(
    state: &UsersState,
    peer: SocketAddr,
    username: &str,
    password: String,
) -> Result<(Uuid, Role, Option<Uuid>), ApiError> {
    let account = username.trim().to_lowercase();
    state.limits.admit(Flow::SignIn, peer.ip()).await?;
    state.limits.attempt(Account::User, &account).await?;
    let row: Option<(Uuid, String, Role, Option<Uuid>)> = match Email::parse(username) {
        Ok(email) => {
            sqlx::query!(
                r#"select id, password_hash, role as "role: Role", gym_id from users where lower(email) = $1"#,
                email.as_str()
            )
            .fetch_optional(&state.pool)
            .await?
            .map(|r| (r.id, r.password_hash, r.role, r.gym_id))
        }
        Err(_) => None,
    };
    let (stored, who) = match row {
        Some((id, hash, role, gym)) => (Some(hash), Some((id, role, gym))),
        None => (None, None),
    };
    // Same work and same answer whether the account is unknown or the password wrong.
    let ok = password::verify(password, stored).await?;
    let Some(who) = who.filter(|_| ok) else {
        // The attempt's lockout slot stays taken.
        return Err(ApiError::Unauthenticated);
    };
    state.limits.succeeded(Account::User, &account).await?;
    Ok(who)
}

async fn refresh_grant(
    state: &UsersState,
    peer: SocketAddr,
    req: TokenRequest,
) -> Result<TokenResponse, ApiError> {
    let presented = req
        .refresh_token
        .ok_or_else(|| ApiError::BadRequest("refresh_token is required".into()))?;
    let (session, role, gym) = spend_refresh(state, peer, &presented).await?;
    let (access_token, expires_in) = state.keys.issue(session.user, role, gym)?;
    let refresh_token = state.refresh.rotate(&session).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(refresh_token),
    })
}

/// Spends a refresh token (single use): its session, with the role and gym that are
/// true now (read again, not copied from the old token).
pub(crate) async fn spend_refresh(
    state: &UsersState,
    peer: SocketAddr,
    presented: &str,
) -> Result<(crate::refresh::Session, Role, Option<Uuid>), ApiError> {
    state.limits.admit(Flow::Refresh, peer.ip()).await?;
    let session = state.refresh.spend(presented).await?;
    let row = sqlx::query!(
        r#"select role as "role: Role", gym_id from users where id = $1"#,
        session.user
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::Unauthenticated)?;
    Ok((session, row.role, row.gym_id))
}

async fn client_credentials_grant(
    state: &UsersState,
    peer: SocketAddr,
    headers: &HeaderMap,
    req: TokenRequest,
) -> Result<TokenResponse, ApiError> {
    // client_secret_basic or client_secret_post.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    let (client_id, secret) = match (basic, req.client_id, req.client_secret) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => return Err(ApiError::Unauthenticated),
    };
    state.limits.admit(Flow::SignIn, peer.ip()).await?;
    state.limits.attempt(Account::Client, &client_id).await?;
    let row = sqlx::query!(
        "select id, secret_hash from service_accounts where client_id = $1 and disabled_at is null",
        &client_id
    )
    .fetch_optional(&state.pool)
    .await?
    .map(|r| (r.id, r.secret_hash));
    let (stored, id) = match row {
        Some((id, hash)) => (Some(hash), Some(id)),
        None => (None, None),
    };
    let ok = password::verify(secret, stored).await?;
    let Some(id) = id.filter(|_| ok) else {
        return Err(ApiError::Unauthenticated);
    };
    state.limits.succeeded(Account::Client, &client_id).await?;
    let (access_token, expires_in) = state.keys.issue(id, Role::Service, None)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: None,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    refresh_token: Option<String>,
}

/// `POST /api/auth/logout`: this access token and (if given) its refresh token's family.
#[utoipa::path(
    post, path = "/api/auth/logout", tag = "auth",
    summary = "End this access token and, if given, its refresh token's family",
    request_body(content = Option<LogoutRequest>),
    responses((status = 204, description = "Logged out")),
    security(("bearer" = []))
)]
pub async fn logout(
    State(state): State<UsersState>,
    user: AuthUser,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let request: LogoutRequest = if body.is_empty() {
        LogoutRequest {
            refresh_token: None,
        }
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::field("body", e.to_string()))?
    };
    if let Some(token) = request.refresh_token {
        state.refresh.revoke(&token, user.id()).await?;
    }
    state.auth.revocations().revoke_token(user.claims()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/logout-all`: every access and refresh token of the caller.
#[utoipa::path(
    post, path = "/api/auth/logout-all", tag = "auth",
    summary = "End every session of the caller",
    responses((status = 204, description = "Logged out everywhere")),
    security(("bearer" = []))
)]
pub async fn logout_all(
    State(state): State<UsersState>,
    user: AuthUser,
) -> Result<StatusCode, ApiError> {
    state.refresh.revoke_all(user.id()).await?;
    state
        .auth
        .revocations()
        .revoke_user(user.id(), state.keys.ttl_secs())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAccount {
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{2,62}$")]
    client_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAccountCreated {
    id: Uuid,
    client_id: String,
    /// Shown once; only its Argon2id hash is kept.
    client_secret: String,
}

/// `POST /api/auth/service-accounts` (admins): credentials for the client-credentials grant.
#[utoipa::path(
    post, path = "/api/auth/service-accounts", tag = "auth",
    summary = "Create a service account (admins); its secret is shown once",
    request_body = NewServiceAccount,
    responses((status = 201, description = "Created", body = ServiceAccountCreated), (status = 409, description = "The client id is taken", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn create_service_account(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiJson(req): ApiJson<NewServiceAccount>,
) -> Result<(StatusCode, Json<ServiceAccountCreated>), ApiError> {
    user.require(&[Role::Admin])?;
    let valid = (3..=63).contains(&req.client_id.len())
        && req
            .client_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !req.client_id.starts_with('-');
    if !valid {
        return Err(ApiError::field(
            "client_id",
            "must be 3 to 63 lowercase letters, digits or hyphens",
        ));
    }
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let hash = password::hash(secret.clone()).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into service_accounts (id, client_id, secret_hash, created_by) values ($1, $2, $3, $4)",
        id,
        &req.client_id,
        &hash,
        user.id()
    )
        .execute(&state.pool)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ServiceAccountCreated {
            id,
            client_id: req.client_id,
            client_secret: secret,
        }),
    ))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ServiceAccount {
    id: Uuid,
    client_id: String,
    created_at: chrono::DateTime<chrono::Utc>,
    disabled_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `GET /api/auth/service-accounts` (admins).
#[utoipa::path(
    get, path = "/api/auth/service-accounts", tag = "auth",
    summary = "Service accounts (admins)",
    responses((status = 200, description = "Service accounts", body = Vec<ServiceAccount>)),
    security(("bearer" = []))
)]
pub async fn list_service_accounts(
    State(state): State<UsersState>,
    user: AuthUser,
) -> Result<Json<Vec<ServiceAccount>>, ApiError> {
    user.require(&[Role::Admin])?;
    let rows = sqlx::query_as!(
        ServiceAccount,
        "select id, client_id, created_at, disabled_at from service_accounts order by created_at"
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// `POST /api/auth/service-accounts/{id}/disable` (admins): the account can no longer
/// obtain tokens, and the tokens it holds stop working at once.
#[utoipa::path(
    post, path = "/api/auth/service-accounts/{id}/disable", tag = "auth",
    summary = "Disable a service account (admins): no new tokens, and its tokens stop at once",
    params(("id" = Uuid, Path, description = "The service account")),
    responses((status = 200, description = "Disabled", body = ServiceAccount), (status = 404, description = "No such account", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn disable_service_account(
    State(state): State<UsersState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ServiceAccount>, ApiError> {
    user.require(&[Role::Admin])?;
    let row = sqlx::query_as!(
        ServiceAccount,
        "update service_accounts set disabled_at = coalesce(disabled_at, now()) where id = $1
         returning id, client_id, created_at, disabled_at",
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    state
        .auth
        .revocations()
        .revoke_user(id, state.keys.ttl_secs())
        .await?;
    Ok(Json(row))
}

/// `GET /.well-known/jwks.json`: the public keys tokens are verified with.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "auth",
    summary = "The public keys tokens are verified with (JWKS)",
    responses((status = 200, description = "JWK set", body = Object))
)]
pub async fn jwks(State(state): State<UsersState>) -> Json<serde_json::Value> {
    Json(state.keys.jwks())
}

/// `GET /.well-known/openid-configuration`: enough OpenID discovery for gateways
/// (Istio `RequestAuthentication`, Envoy) to find the issuer's keys.
#[utoipa::path(
    get, path = "/.well-known/openid-configuration", tag = "auth",
    summary = "OpenID discovery: the issuer, its keys and token endpoint",
    responses((status = 200, description = "Discovery document", body = Object))
)]
pub async fn discovery(State(state): State<UsersState>) -> Json<serde_json::Value> {
    let issuer = state.keys.issuer().trim_end_matches('/').to_owned();
    Json(serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "token_endpoint": format!("{issuer}/api/auth/token"),
        "grant_types_supported": ["password", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
    }))
}
