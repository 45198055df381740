//! Who may see and change whose calendar. Relationships come from the service's access
//! projection (`access_grants`), with the platform's guards (a stale projection fails
//! closed; an ended relationship counts no more).

use chrono::NaiveTime;
use chrono_tz::Tz;
use fitsync_platform::{
    auth::{Grants, Relationships, Role},
    ApiError, AuthUser,
};
use uuid::Uuid;

use crate::ScheduleState;

/// The gyms `user` belongs to, as the projection and the revocation guard have them.
async fn gyms_of(state: &ScheduleState, user: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let candidates = sqlx::query_scalar!(
        "select grantee from access_grants where kind = 'gym' and subject = $1 and active",
        user
    )
    .fetch_all(&state.pool)
    .await?;
    let grants = Grants::new(&state.pool, &state.auth);
    let mut out = Vec::with_capacity(candidates.len());
    for gym in candidates {
        if grants.in_gym(gym, user).await? {
            out.push(gym);
        }
    }
    Ok(out)
}

/// Who the caller creates session types, rooms and packages as: a trainer for
/// themselves, a gym account for its gym.
pub(crate) fn owner_of(user: &AuthUser) -> Result<(&'static str, Uuid), ApiError> {
    match (user.role(), user.claims().gym) {
        (Role::Trainer, _) => Ok(("trainer", user.id())),
        (Role::Gym, Some(gym)) => Ok(("gym", gym)),
        (Role::Gym, None) => Err(ApiError::ForbiddenBecause("open a gym first")),
        _ => Err(ApiError::Forbidden),
    }
}

/// `a` and `b` belong to one gym.
async fn share_a_gym(state: &ScheduleState, a: Uuid, b: Uuid) -> Result<bool, ApiError> {
    let grants = Grants::new(&state.pool, &state.auth);
    for gym in gyms_of(state, a).await? {
        if grants.in_gym(gym, b).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Sees a trainer's hours, free slots and classes: the trainer; their clients; anyone in
/// a gym with them; the owner of such a gym; admins and services.
pub(crate) async fn may_see_trainer(
    state: &ScheduleState,
    user: &AuthUser,
    trainer: Uuid,
) -> Result<(), ApiError> {
    let grants = Grants::new(&state.pool, &state.auth);
    let allowed = match user.role() {
        Role::Admin | Role::Service => true,
        _ if user.id() == trainer => true,
        Role::Gym => match user.claims().gym {
            Some(gym) => grants.in_gym(gym, trainer).await?,
            None => false,
        },
        Role::Client => {
            grants.trains(trainer, user.id()).await?
                || share_a_gym(state, trainer, user.id()).await?
        }
        Role::Trainer => share_a_gym(state, trainer, user.id()).await?,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Changes a trainer's hours and schedules their classes: the trainer, the owner of a
/// gym they belong to, admins.
pub(crate) async fn may_manage_trainer(
    state: &ScheduleState,
    user: &AuthUser,
    trainer: Uuid,
) -> Result<(), ApiError> {
    let allowed = match user.role() {
        Role::Admin => true,
        Role::Trainer => user.id() == trainer,
        Role::Gym => match user.claims().gym {
            Some(gym) => {
                Grants::new(&state.pool, &state.auth)
                    .in_gym(gym, trainer)
                    .await?
            }
            None => false,
        },
        Role::Client | Role::Service => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// A session type's owner offers it through `trainer`: their own, or their gym's.
pub(crate) async fn offers(
    state: &ScheduleState,
    owner_kind: &str,
    owner_id: Uuid,
    trainer: Uuid,
) -> Result<bool, ApiError> {
    match owner_kind {
        "trainer" => Ok(owner_id == trainer),
        _ => {
            Grants::new(&state.pool, &state.auth)
                .in_gym(owner_id, trainer)
                .await
        }
    }
}

/// May book on a trainer's sessions: their clients, and members of a gym they share
/// (for a gym's session type, that gym).
pub(crate) async fn may_book_with(
    state: &ScheduleState,
    client: Uuid,
    trainer: Uuid,
    owner_kind: &str,
    owner_id: Uuid,
) -> Result<bool, ApiError> {
    let grants = Grants::new(&state.pool, &state.auth);
    if owner_kind == "gym" {
        return grants.in_gym(owner_id, client).await;
    }
    Ok(grants.trains(trainer, client).await? || share_a_gym(state, trainer, client).await?)
}

pub(crate) fn time_zone(field: &str, raw: &str) -> Result<Tz, ApiError> {
    raw.parse::<Tz>()
        .map_err(|_| ApiError::field(field, "an IANA time zone such as Europe/Berlin"))
}

/// A name as stored: 1 to 120 characters once trimmed, and no NUL (which PostgreSQL's
/// text cannot hold).
pub(crate) fn name_ok(trimmed: &str) -> bool {
    !trimmed.is_empty() && trimmed.chars().count() <= 120 && !trimmed.contains('\0')
}

/// `HH:MM` (24-hour clock).
pub(crate) fn clock(raw: &str) -> Option<NaiveTime> {
    if raw.len() != 5 {
        return None;
    }
    NaiveTime::parse_from_str(raw, "%H:%M").ok()
}

/// The database's refusals that mean "that time is taken", as 409 problems.
pub(crate) fn taken(err: sqlx::Error) -> ApiError {
    if let sqlx::Error::Database(db) = &err {
        let why = match db.constraint() {
            Some("sessions_trainer_free") => Some("the trainer is not free then"),
            Some("sessions_room_free") => Some("the room is taken then"),
            Some("bookings_client_free") => Some("the client already holds a session at that time"),
            _ => None,
        };
        if let Some(why) = why {
            return ApiError::Conflict(why.to_owned());
        }
    }
    err.into()
}
