//! Email verification and password reset by emailed one-time tokens. The users service
//! only asks (an `email_requested` event on `fitsync.notifications`, in the same
//! transaction as the token); the notifications service sends.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::StatusCode,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64URL, Engine};
use chrono::{Duration, Utc};
use fitsync_events::{
    AddressVerified, CloudEvent, EmailRequested, EmailTemplate, Topic, ADDRESS_VERIFIED_V1,
    EMAIL_REQUESTED_V2,
};
use fitsync_platform::{outbox, sealed::Sealer, ApiError, ApiJson, AuthUser, Role};
use rand::RngCore;
use ring::digest;
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    domain::NewPassword,
    handlers::SOURCE,
    limits::{Account, Flow},
    links, password, UsersState,
};

fn token_hash(token: &str) -> String {
    B64URL.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

fn purpose(template: EmailTemplate) -> &'static str {
    match template {
        EmailTemplate::VerifyEmail => "verify_email",
        // "Someone tried to register your address" carries a reset link.
        EmailTemplate::PasswordReset | EmailTemplate::AccountExists => "password_reset",
    }
}

/// Creates a token and asks for the email, inside the caller's transaction. The token is
/// sealed for the notifications service: the outbox and Kafka never hold it in the clear.
pub async fn request(
    conn: &mut PgConnection,
    sealer: &Sealer,
    user: Uuid,
    to: &str,
    template: EmailTemplate,
    ttl_secs: i64,
) -> Result<(), ApiError> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = B64URL.encode(raw);
    let expires_at = Utc::now() + Duration::seconds(ttl_secs);
    sqlx::query!(
        "insert into email_tokens (token_hash, user_id, purpose, expires_at) values ($1, $2, $3, $4)",
        token_hash(&token),
        user,
        purpose(template),
        expires_at
    )
        .execute(&mut *conn)
        .await?;
    let notification_id = Uuid::now_v7();
    let sealed_token = sealer
        .seal(notification_id.as_bytes(), &token)
        .map_err(|e| anyhow::Error::new(e).context("sealing an email token"))?;
    let event = CloudEvent::new(
        SOURCE,
        EMAIL_REQUESTED_V2,
        user.to_string(),
        EmailRequested {
            notification_id,
            user_id: user,
            to: to.to_owned(),
            template,
            sealed_token,
            expires_at,
        },
    );
    outbox::enqueue(conn, Topic::Notifications, &event).await?;
    Ok(())
}

/// Tells the notifications service where `user`'s alert email may go now that the
/// address is verified (in the transaction that verified it).
async fn address_verified(
    conn: &mut PgConnection,
    user: Uuid,
    email: &str,
) -> Result<(), ApiError> {
    let event = CloudEvent::new(
        SOURCE,
        ADDRESS_VERIFIED_V1,
        user.to_string(),
        AddressVerified {
            user_id: user,
            email: email.to_owned(),
            verified_at: Utc::now(),
        },
    );
    outbox::enqueue(conn, Topic::Notifications, &event).await?;
    Ok(())
}

/// An unknown, used or expired token: as if it did not exist.
fn invalid_token() -> ApiError {
    ApiError::NotFound
}

/// Spends a token of `template`'s purpose, and with it every other outstanding token of
/// that purpose for the same user (an older reset link must not outlive a reset);
/// returns its user.
async fn spend(
    conn: &mut PgConnection,
    token: &str,
    template: EmailTemplate,
) -> Result<Uuid, ApiError> {
    let user: Uuid = sqlx::query_scalar!(
        "update email_tokens set used_at = now()
         where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()
         returning user_id",
        token_hash(token),
        purpose(template)
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(invalid_token)?;
    sqlx::query!(
        "update email_tokens set used_at = now()
         where user_id = $1 and purpose = $2 and used_at is null",
        user,
        purpose(template)
    )
    .execute(&mut *conn)
    .await?;
    Ok(user)
}

/// Whether `token` could be spent now (checked before any expensive work).
async fn usable(pool: &PgPool, token: &str, template: EmailTemplate) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from email_tokens
         where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()) as "usable!""#,
        token_hash(token),
        purpose(template)
    )
    .fetch_one(pool)
    .await?)
}

/// `POST /api/auth/verify-email/request`: send the verification email again (a few
/// times an hour at most).
#[utoipa::path(
    post, path = "/api/auth/verify-email/request", tag = "auth",
    summary = "Send the verification email again (five an hour at most)",
    responses((status = 202, description = "Sent"), (status = 409, description = "Already verified", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn resend_verification(
    State(state): State<UsersState>,
    user: AuthUser,
) -> Result<StatusCode, ApiError> {
    if user.role() == Role::Service {
        return Err(ApiError::ForbiddenBecause(
            "a service account has no address",
        ));
    }
    state
        .limits
        .admit_email_to_user("verify", user.id())
        .await?;
    let mut tx = state.pool.begin().await?;
    let row = sqlx::query!(
        r#"select email, email_verified_at is not null as "verified!" from users where id = $1"#,
        user.id()
    )
    .fetch_one(&mut *tx)
    .await?;
    let (email, verified) = (row.email, row.verified);
    if verified {
        return Err(ApiError::Conflict("the address is already verified".into()));
    }
    request(
        &mut tx,
        &state.sealer,
        user.id(),
        &email,
        EmailTemplate::VerifyEmail,
        state.email_ttl.verify,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    token: String,
}

/// `POST /api/auth/verify-email`: the token from the email, by the account it was sent
/// for, signed in. Holding the mailbox is not enough: if someone registered another
/// person's address, that person clicking the link must not verify the stranger's
/// account (which could then link to trainers and gyms); they take the account over with
/// a password reset instead, which verifies the address and ends those links.
#[utoipa::path(
    post, path = "/api/auth/verify-email", tag = "auth",
    summary = "Verify the caller's address with the emailed token",
    request_body = TokenBody,
    responses((status = 204, description = "Verified"), (status = 404, description = "The token is unknown, used, expired or another account's", body = fitsync_platform::Problem)),
    security(("bearer" = []))
)]
pub async fn verify(
    State(state): State<UsersState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.pool.begin().await?;
    let user = spend(&mut tx, &body.token, EmailTemplate::VerifyEmail).await?;
    if user != caller.id() {
        // Rolled back: the token stays usable by its own account.
        return Err(invalid_token());
    }
    let newly = sqlx::query_scalar!(
        r#"update users set email_verified_at = now() where id = $1 and email_verified_at is null
           returning lower(email) as "email!""#,
        user
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(email) = newly {
        address_verified(&mut tx, user, &email).await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[schema(
        pattern = "^[^@\\s\\x00-\\x1f\\x7f-\\x9f]+@[^@\\s\\x00-\\x1f\\x7f-\\x9f.][^@\\s\\x00-\\x1f\\x7f-\\x9f]*\\.[^@\\s\\x00-\\x1f\\x7f-\\x9f]*[^@\\s\\x00-\\x1f\\x7f-\\x9f.]$",
        max_length = 254
    )]
    email: String,
}

/// `POST /api/auth/password-reset`: always 202, whether or not the address has an
/// account, so the answer reveals nothing; throttled per caller and per address.
#[utoipa::path(
    post, path = "/api/auth/password-reset", tag = "auth",
    summary = "Email a password-reset link (always 202)",
    request_body = ResetRequest,
    responses((status = 202, description = "Accepted"))
)]
pub async fn request_reset(
    State(state): State<UsersState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    let email = crate::domain::Email::parse(&body.email)?;
    state.limits.admit(Flow::ResetRequest, peer.ip()).await?;
    state.limits.admit_email("reset", email.as_str()).await?;
    let mut tx = state.pool.begin().await?;
    let user = sqlx::query!(
        "select id, email from users where lower(email) = $1",
        email.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| (r.id, r.email));
    if let Some((id, address)) = user {
        request(
            &mut tx,
            &state.sealer,
            id,
            &address,
            EmailTemplate::PasswordReset,
            state.email_ttl.reset,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    token: String,
    #[schema(min_length = 10, max_length = 128)]
    password: String,
}

/// `POST /api/auth/password-reset/confirm`: a new password; every session ends. The
/// token is checked before the password is hashed (an invalid one costs no Argon2 run),
/// and confirmations are throttled per caller. A reset proves the address: if it was
/// not verified before, every link the account made meanwhile (relationships, a gym)
/// ends — they may have been made by someone who registered the address first.
#[utoipa::path(
    post, path = "/api/auth/password-reset/confirm", tag = "auth",
    summary = "Set a new password with the emailed token; every session ends",
    request_body = ResetConfirm,
    responses((status = 204, description = "Password set"), (status = 404, description = "The token is unknown, used or expired", body = fitsync_platform::Problem))
)]
pub async fn confirm_reset(
    State(state): State<UsersState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    let password = NewPassword::parse(body.password)?;
    state.limits.admit(Flow::ResetConfirm, peer.ip()).await?;
    if !usable(&state.pool, &body.token, EmailTemplate::PasswordReset).await? {
        return Err(invalid_token());
    }
    let hash = password::hash(password.expose().to_owned()).await?;
    let mut tx = state.pool.begin().await?;
    let user = spend(&mut tx, &body.token, EmailTemplate::PasswordReset).await?;
    let row = sqlx::query!(
        r#"select lower(email) as "email!", email_verified_at is not null as "was_verified!"
           from users where id = $1 for update"#,
        user
    )
    .fetch_one(&mut *tx)
    .await?;
    let (email, was_verified) = (row.email, row.was_verified);
    sqlx::query!(
        "update users set password_hash = $2, email_verified_at = coalesce(email_verified_at, now())
         where id = $1",
        user,
        &hash
    )
    .execute(&mut *tx)
    .await?;
    if !was_verified {
        links::end_all(&mut tx, &state, user).await?;
        address_verified(&mut tx, user, &email).await?;
    }
    tx.commit().await?;
    state.refresh.revoke_all(user).await?;
    state
        .auth
        .revocations()
        .revoke_user(user, state.keys.ttl_secs())
        .await?;
    state.limits.succeeded(Account::User, &email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Someone registered an address that has an account: tell its owner, with a reset link.
pub async fn account_exists(
    conn: &mut PgConnection,
    state: &UsersState,
    user: Uuid,
    email: &str,
) -> Result<(), ApiError> {
    request(
        conn,
        &state.sealer,
        user,
        email,
        EmailTemplate::AccountExists,
        state.email_ttl.reset,
    )
    .await
}

/// Lifetimes of the emailed tokens.
#[derive(Debug, Clone, Copy)]
pub struct EmailTtl {
    pub verify: i64,
    pub reset: i64,
}

/// So that the verification email follows registration in the same transaction.
pub async fn after_registration(
    conn: &mut PgConnection,
    state: &UsersState,
    user: Uuid,
    email: &str,
) -> Result<(), ApiError> {
    request(
        conn,
        &state.sealer,
        user,
        email,
        EmailTemplate::VerifyEmail,
        state.email_ttl.verify,
    )
    .await
}
