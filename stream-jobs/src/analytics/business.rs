//! Sink of the trainer and gym facts: gym memberships, coaching relationships, sessions,
//! session types, trainers' hours and package purchases, each applied so that any order
//! and any repetition of their events leaves the same rows (newest revision or version
//! wins; a relationship's start and end are kept whichever comes first). The business
//! figures are computed from them when read (progressdb's `gym_kpis`, `trainer_kpis`, …).

use fitsync_events::{
    AvailabilityChanged, GymMembershipChanged, PackagePurchased, RelationshipChanged,
    SessionChanged, SessionTypeSaved,
};
use sqlx::PgConnection;

/// The trainer and gym changes of one batch (the newest of each thing where it has a
/// revision; all of them in log order otherwise).
#[derive(Default)]
pub struct Changes {
    pub members: Vec<(GymMembershipChanged, bool)>,
    pub coaching: Vec<(RelationshipChanged, bool)>,
    pub sessions: Vec<SessionChanged>,
    pub session_types: Vec<SessionTypeSaved>,
    pub availability: Vec<AvailabilityChanged>,
    pub purchases: Vec<PackagePurchased>,
}

impl Changes {
    pub fn len(&self) -> usize {
        self.members.len()
            + self.coaching.len()
            + self.sessions.len()
            + self.session_types.len()
            + self.availability.len()
            + self.purchases.len()
    }
}

/// Applies the changes; returns how many were older than what is held.
pub async fn apply(conn: &mut PgConnection, changes: &Changes) -> Result<usize, sqlx::Error> {
    let mut stale = 0;
    for (m, joined) in &changes.members {
        // The first join is kept whatever the order; the rest follows the newest change.
        let first = joined.then_some(m.at);
        let newer = sqlx::query_scalar!(
            "insert into member_facts (gym_id, user_id, role, active, first_joined_at, version, changed_at)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (gym_id, user_id) do update
             set role = excluded.role, active = excluded.active, version = excluded.version,
                 changed_at = excluded.changed_at
             where (excluded.version, excluded.changed_at) > (member_facts.version, member_facts.changed_at)
             returning gym_id",
            m.gym_id,
            m.user_id,
            m.role,
            joined,
            first,
            m.version,
            m.at
        )
        .fetch_optional(&mut *conn)
        .await?;
        if newer.is_none() {
            stale += 1;
        }
        if first.is_some() {
            sqlx::query!(
                "update member_facts set first_joined_at = least(first_joined_at, $3)
                 where gym_id = $1 and user_id = $2",
                m.gym_id,
                m.user_id,
                m.at
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    for (r, started) in &changes.coaching {
        let (start, end) = if *started {
            (Some(r.at), None)
        } else {
            (None, Some(r.at))
        };
        sqlx::query!(
            "insert into coaching_facts (relationship_id, trainer_id, client_id, started_at, ended_at)
             values ($1, $2, $3, $4, $5)
             on conflict (relationship_id) do update
             set started_at = least(coaching_facts.started_at, excluded.started_at),
                 ended_at = greatest(coaching_facts.ended_at, excluded.ended_at)",
            r.relationship_id,
            r.trainer_id,
            r.client_id,
            start,
            end
        )
        .execute(&mut *conn)
        .await?;
    }
    for s in &changes.sessions {
        let newer = sqlx::query_scalar!(
            "insert into session_facts (session_id, trainer_id, session_type_id, kind, starts_at, ends_at, capacity,
                                        booked, status, revision)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             on conflict (session_id) do update
             set trainer_id = excluded.trainer_id, session_type_id = excluded.session_type_id, kind = excluded.kind,
                 starts_at = excluded.starts_at, ends_at = excluded.ends_at, capacity = excluded.capacity,
                 booked = excluded.booked, status = excluded.status, revision = excluded.revision
             where excluded.revision > session_facts.revision
             returning session_id",
            s.session_id,
            s.trainer_id,
            s.session_type_id,
            s.kind,
            s.starts_at,
            s.ends_at,
            s.capacity,
            s.booked,
            s.status,
            s.revision
        )
        .fetch_optional(&mut *conn)
        .await?;
        if newer.is_none() {
            stale += 1;
        }
    }
    for t in &changes.session_types {
        sqlx::query!(
            "insert into session_type_facts (session_type_id, owner_kind, owner_id, name, kind)
             values ($1, $2, $3, $4, $5)
             on conflict (session_type_id) do update
             set owner_kind = excluded.owner_kind, owner_id = excluded.owner_id, name = excluded.name,
                 kind = excluded.kind",
            t.session_type_id,
            t.owner_kind,
            t.owner_id,
            t.name,
            t.kind
        )
        .execute(&mut *conn)
        .await?;
    }
    for a in &changes.availability {
        let weekly = serde_json::to_value(&a.weekly).unwrap_or_default();
        let exceptions = serde_json::to_value(&a.exceptions).unwrap_or_default();
        let newer = sqlx::query_scalar!(
            "insert into availability_facts (trainer_id, time_zone, weekly, exceptions, revision)
             values ($1, $2, $3, $4, $5)
             on conflict (trainer_id) do update
             set time_zone = excluded.time_zone, weekly = excluded.weekly, exceptions = excluded.exceptions,
                 revision = excluded.revision
             where excluded.revision > availability_facts.revision
             returning trainer_id",
            a.trainer_id,
            a.time_zone,
            weekly,
            exceptions,
            a.revision
        )
        .fetch_optional(&mut *conn)
        .await?;
        if newer.is_none() {
            stale += 1;
        }
    }
    for p in &changes.purchases {
        let new = sqlx::query_scalar!(
            "insert into purchase_facts (purchase_id, client_id, owner_kind, owner_id, price_cents, currency, paid_at)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (purchase_id) do nothing
             returning purchase_id",
            p.purchase_id,
            p.client_id,
            p.owner_kind,
            p.owner_id,
            p.price_cents,
            p.currency,
            p.paid_at
        )
        .fetch_optional(&mut *conn)
        .await?;
        if new.is_none() {
            stale += 1;
        }
    }
    Ok(stale)
}
