//! Browser sessions: the token endpoint's tokens, carried in cookies.
//!
//! An `EventSource` cannot send an `Authorization` header, and a token a script can read
//! is a token an injected script can steal, so the web app signs in here instead of at
//! `/api/auth/token`:
//!
//! - `fitsync_access`: the access token; HttpOnly, Secure, SameSite=Strict, path `/api`.
//! - `fitsync_refresh`: the refresh token (single use, rotated as by the token endpoint);
//!   HttpOnly, Secure, SameSite=Strict, sent only to `/api/auth/session`.
//! - `fitsync_csrf`: a random token the page reads and repeats in `X-CSRF-Token` on every
//!   unsafe request. It is also signed into the access token (`csrf` claim), so the check
//!   (`AuthUser`) compares the header with the signed value, not with a cookie a sibling
//!   origin could have planted. The refresh call, made when the access token may have
//!   expired, compares the header with the cookie (double submit) on top of SameSite.
//!
//! Bearer tokens keep working for API clients; a bearer token wins over the cookie.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64URL, Engine};
use fitsync_platform::{
    auth::{cookie, cookies, same_bytes},
    ApiError, ApiJson, Role,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::UsersState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    #[schema(max_length = 254)]
    email: String,
    password: String,
}

/// The signed-in browser session (the tokens themselves are in HttpOnly cookies).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    user_id: Uuid,
    role: Role,
    gym_id: Option<Uuid>,
    /// Repeat in `X-CSRF-Token` on unsafe requests (also in the `fitsync_csrf` cookie).
    csrf_token: String,
    /// Seconds until the access cookie expires: refresh before.
    expires_in: i64,
}

fn csrf_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    B64URL.encode(bytes)
}

fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    http_only: bool,
    secure: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; Max-Age={max_age}; SameSite=Strict");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are base64url or JWT")
}

/// A 200 with the session's cookies and its description.
fn started(
    state: &UsersState,
    user: Uuid,
    role: Role,
    gym: Option<Uuid>,
    refresh_token: &str,
) -> Result<Response, ApiError> {
    let csrf = csrf_token();
    let (access, expires_in) = state
        .keys
        .issue_with_csrf(user, role, gym, Some(csrf.clone()))?;
    let secure = state.session_cookie_secure;
    let refresh_age = i64::try_from(state.refresh.ttl_secs()).unwrap_or(i64::MAX);
    let mut response = Json(SessionInfo {
        user_id: user,
        role,
        gym_id: gym,
        csrf_token: csrf.clone(),
        expires_in,
    })
    .into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(cookies::ACCESS, &access, "/api", expires_in, true, secure),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(
            cookies::REFRESH,
            refresh_token,
            SESSION_PATH,
            refresh_age,
            true,
            secure,
        ),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(cookies::CSRF, &csrf, "/", refresh_age, false, secure),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

const SESSION_PATH: &str = "/api/auth/session";

/// The three cookies, expired.
fn cleared(secure: bool) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    for (name, path, http_only) in [
        (cookies::ACCESS, "/api", true),
        (cookies::REFRESH, SESSION_PATH, true),
        (cookies::CSRF, "/", false),
    ] {
        headers.append(
            header::SET_COOKIE,
            set_cookie(name, "", path, 0, http_only, secure),
        );
    }
    response
}

/// `POST /api/auth/session`: sign in a browser.
#[utoipa::path(
    post, path = "/api/auth/session", tag = "auth", operation_id = "session_create",
    summary = "Sign in a browser: the tokens as HttpOnly cookies, and a CSRF token",
    request_body = SessionRequest,
    responses(
        (status = 200, description = "Signed in; cookies fitsync_access, fitsync_refresh, fitsync_csrf set", body = SessionInfo),
        (status = 401, description = "Invalid credentials", body = fitsync_platform::Problem),
        (status = 429, description = "Too many attempts", body = fitsync_platform::Problem)
    )
)]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn create(
    State(state): State<UsersState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<SessionRequest>,
) -> Result<Response, ApiError> {
    let (user, role, gym) = crate::tokens::sign_in(&state, peer, &req.email, req.password).await?;
    let refresh = state.refresh.issue(user).await?;
    started(&state, user, role, gym, &refresh)
}

/// The double-submit check of the refresh call: the header equals the CSRF cookie.
fn double_submitted(headers: &HeaderMap) -> Result<(), ApiError> {
    let sent = headers
        .get(cookies::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    match (sent, cookie(headers, cookies::CSRF)) {
        (Some(sent), Some(kept)) if same_bytes(sent.as_bytes(), kept.as_bytes()) => Ok(()),
        _ => Err(ApiError::ForbiddenBecause(
            "refreshing a session needs its CSRF token in the X-CSRF-Token header",
        )),
    }
}

/// `POST /api/auth/session/refresh`: new cookies for the refresh cookie (single use;
/// a second use of the same one ends its family, as at the token endpoint).
#[utoipa::path(
    post, path = "/api/auth/session/refresh", tag = "auth", operation_id = "session_refresh",
    summary = "Rotate a browser session's cookies (X-CSRF-Token required)",
    params(("X-CSRF-Token" = String, Header, description = "The fitsync_csrf cookie's value")),
    responses(
        (status = 200, description = "New cookies", body = SessionInfo),
        (status = 401, description = "No live session", body = fitsync_platform::Problem),
        (status = 403, description = "The CSRF token is missing or wrong", body = fitsync_platform::Problem)
    )
)]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn refresh(
    State(state): State<UsersState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let presented = cookie(&headers, cookies::REFRESH).ok_or(ApiError::Unauthenticated)?;
    double_submitted(&headers)?;
    let (session, role, gym) = crate::tokens::spend_refresh(&state, peer, presented).await?;
    let rotated = state.refresh.rotate(&session).await?;
    started(&state, session.user, role, gym, &rotated)
}

/// `POST /api/auth/session/logout`: this browser's session ends and its cookies are
/// cleared. It needs no live access token (the access cookie may have run out while the
/// refresh cookie, which would sign the browser back in, has not): the refresh cookie's
/// family is revoked, and the access token too if it is still valid. The CSRF token is
/// checked as for a refresh (double submit). `POST /api/auth/logout-all` ends every
/// session, the browser's included.
#[utoipa::path(
    post, path = "/api/auth/session/logout", tag = "auth", operation_id = "session_logout",
    summary = "Sign a browser out: its tokens are revoked and its cookies cleared (X-CSRF-Token required)",
    params(("X-CSRF-Token" = String, Header, description = "The fitsync_csrf cookie's value")),
    responses(
        (status = 204, description = "Signed out; the cookies are cleared"),
        (status = 403, description = "The CSRF token is missing or wrong", body = fitsync_platform::Problem)
    )
)]
pub async fn logout(
    State(state): State<UsersState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    double_submitted(&headers)?;
    if let Some(token) = cookie(&headers, cookies::REFRESH) {
        state.refresh.revoke_presented(token).await?;
    }
    if let Some(token) = cookie(&headers, cookies::ACCESS) {
        if let Ok(claims) = state.auth.authenticate(token).await {
            state.auth.revocations().revoke_token(&claims).await?;
        }
    }
    Ok(cleared(state.session_cookie_secure))
}
