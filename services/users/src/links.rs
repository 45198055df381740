//! Links between accounts (trainer–client relationships, gym membership) and the rule
//! that guards them: only an account whose address is verified may make one. Otherwise
//! an attacker could register someone else's address, accept a gym's or a trainer's
//! invitation for it, and keep that link after the real owner took the account back.

use fitsync_events::GYM_MEMBER_LEFT_V1;
use fitsync_platform::{ApiError, Role};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{gyms, relationships, UsersState};

/// The next access version (see the `access_version` sequence).
pub async fn next_version(conn: &mut PgConnection) -> Result<i64, ApiError> {
    Ok(
        sqlx::query_scalar!(r#"select nextval('access_version') as "version!""#)
            .fetch_one(conn)
            .await?,
    )
}

/// Refuses (403, saying why) unless `user`'s address is verified.
pub async fn require_verified(conn: &mut PgConnection, user: Uuid) -> Result<(), ApiError> {
    let verified: Option<bool> = sqlx::query_scalar!(
        r#"select email_verified_at is not null as "verified!" from users where id = $1"#,
        user
    )
    .fetch_optional(conn)
    .await?;
    match verified {
        Some(true) => Ok(()),
        Some(false) => Err(ApiError::ForbiddenBecause(
            "verify your email address first",
        )),
        None => Err(ApiError::Unauthenticated),
    }
}

/// Ends every link of `user` inside the caller's transaction: open relationships end
/// (an active one with its event, so other services revoke access) and a gym membership
/// ends (unless `user` owns the gym). For an account recovered by its verified owner.
pub async fn end_all(
    conn: &mut PgConnection,
    state: &UsersState,
    user: Uuid,
) -> Result<(), ApiError> {
    let open: Vec<Uuid> = sqlx::query_scalar!(
        "select id from trainer_clients
         where (trainer_id = $1 or client_id = $1) and status in ('invited', 'active')
         for update",
        user
    )
    .fetch_all(&mut *conn)
    .await?;
    for id in open {
        relationships::close(conn, state, id, user).await?;
    }
    let left = sqlx::query!(
        r#"update users u set gym_id = null
           from gyms g
           where u.id = $1 and g.id = u.gym_id and g.owner_id <> u.id
           returning g.id, u.role as "role: Role""#,
        user
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| (r.id, r.role));
    if let Some((gym, role)) = left {
        gyms::emit(conn, state, GYM_MEMBER_LEFT_V1, gym, user, role).await?;
    }
    tracing::warn!(%user, "links made before the address was verified ended on recovery");
    Ok(())
}
