//! Session reminders: durable timers 24 hours and 1 hour before each booked session.
//!
//! The alerts job keeps one row per (booking, lead time) in notificationdb's `reminders`,
//! in the transaction that applies the booking's event: a booking (or a promotion off
//! the waitlist, or a move) sets them to the session's start minus the lead, if that is
//! still ahead of the event; a move resets one that already fired; a cancellation, a
//! check-in or any close drops those not yet fired (the row stays, marked, with the
//! event's revision). Events older than the row's revision change nothing, so a replay,
//! or an old event published again, decides the same.
//!
//! `run` fires what is due: in one transaction it takes due rows (`for update skip
//! locked`), stores each reminder in its client's inbox through the same path as every
//! alert (deduplicated by booking, lead and start), and marks the row fired. A process
//! that dies before the commit fired nothing; its successor fires the rows then: each
//! reminder once, also across restarts. A reminder whose session has begun by the time it
//! could fire (the job was down) is dropped, not sent late.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fitsync_events::BookingChanged;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    fire_all, fired,
    rules::{text, Candidate, Locale},
    wake, Outcome,
};

/// Minutes before the session each reminder fires.
pub const LEADS_MIN: [i32; 2] = [24 * 60, 60];

/// How often `run` looks for due reminders (a reminder is at most this late).
const POLL: Duration = Duration::from_millis(500);

/// Reminders taken per transaction.
const BATCH: i64 = 200;

/// Keeps `b`'s reminders in step with it (event time `time`).
pub async fn keep(
    conn: &mut PgConnection,
    b: &BookingChanged,
    time: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let stands =
        b.status == "booked" && matches!(b.change.as_str(), "booked" | "promoted" | "rescheduled");
    for lead in LEADS_MIN {
        let fire_at = b.starts_at - chrono::Duration::minutes(lead.into());
        // Armed while the booking stands and the time is still ahead. Otherwise (cancelled,
        // closed, checked in, moved too close) dropped: the row stays, marked, with this
        // revision, so that no older event seen again re-arms it. One that already fired
        // stays fired unless the session moved.
        let armed = stands && fire_at > time;
        sqlx::query!(
            "insert into reminders (booking_id, lead_minutes, client_id, trainer_id, session_id,
                                    starts_at, fire_at, revision, dropped_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, case when $9 then null else now() end)
             on conflict (booking_id, lead_minutes) do update
             set starts_at = excluded.starts_at, fire_at = excluded.fire_at,
                 session_id = excluded.session_id, revision = excluded.revision,
                 dropped_at = case when $9 then null else coalesce(reminders.dropped_at, now()) end,
                 fired_at = case when $9 and reminders.starts_at <> excluded.starts_at then null
                                 else reminders.fired_at end
             where reminders.revision < excluded.revision",
            b.booking_id,
            lead,
            b.client_id,
            b.trainer_id,
            b.session_id,
            b.starts_at,
            fire_at,
            b.revision,
            armed
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The reminder alert for one due row.
fn candidate(
    booking: Uuid,
    lead: i32,
    client: Uuid,
    session: Uuid,
    starts_at: DateTime<Utc>,
    fire_at: DateTime<Utc>,
) -> Candidate {
    let mut c = Candidate {
        user_id: client,
        rule: "session_reminder",
        dedup_key: format!("reminder:{booking}:{lead}:{}", starts_at.timestamp()),
        scope: booking.to_string(),
        client_id: None,
        measure: super::rules::Measure::None,
        at: fire_at,
        title: if lead >= 24 * 60 {
            "Session tomorrow"
        } else {
            "Session in an hour"
        }
        .to_owned(),
        body: String::new(),
        subject_id: booking,
        sender_id: None,
        data: json!({"booking_id": booking, "session_id": session, "starts_at": starts_at,
                     "lead_minutes": lead}),
        notification_id: None,
    };
    c.body = text(&c, &Locale::default());
    c
}

/// Fires due reminders until `shutdown`.
pub async fn run(pool: PgPool, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let wait = match round(&pool).await {
            Ok(n) if n as i64 == BATCH => Duration::ZERO,
            Ok(_) => {
                backoff = Duration::from_millis(100);
                POLL
            }
            Err(e) => {
                tracing::warn!(error = %e, "firing reminders failed; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(5));
                backoff
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Fires what is due in one transaction; returns how many rows it took.
async fn round(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query!(
        "select booking_id, lead_minutes, client_id, session_id, starts_at, fire_at
         from reminders where fired_at is null and dropped_at is null and fire_at <= now()
         order by fire_at limit $1 for update skip locked",
        BATCH
    )
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    // The job was down past a session's start: too late to remind of it.
    let candidates: Vec<_> = due
        .iter()
        .filter(|r| r.starts_at > now)
        .map(|r| {
            candidate(
                r.booking_id,
                r.lead_minutes,
                r.client_id,
                r.session_id,
                r.starts_at,
                r.fire_at,
            )
        })
        .collect();
    let mut woken = std::collections::BTreeSet::new();
    for (c, outcome) in candidates.iter().zip(fire_all(&mut tx, &candidates).await?) {
        if outcome == Outcome::Fired {
            fired(c.rule);
            woken.insert(c.user_id);
        }
    }
    let (bookings, leads): (Vec<Uuid>, Vec<i32>) =
        due.iter().map(|r| (r.booking_id, r.lead_minutes)).unzip();
    sqlx::query!(
        "update reminders r set fired_at = now()
         from unnest($1::uuid[], $2::int4[]) as d(booking_id, lead_minutes)
         where r.booking_id = d.booking_id and r.lead_minutes = d.lead_minutes",
        &bookings,
        &leads
    )
    .execute(&mut *tx)
    .await?;
    wake(&mut tx, &woken).await?;
    fitsync_platform::fault::point("reminders.before_commit");
    tx.commit().await?;
    Ok(due.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reminder_names_its_session_and_is_unique_per_start() {
        let (booking, client, session) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let starts: DateTime<Utc> = "2026-12-03T10:00:00Z".parse().unwrap();
        let day = candidate(
            booking,
            1440,
            client,
            session,
            starts,
            starts - chrono::Duration::days(1),
        );
        assert_eq!(day.title, "Session tomorrow");
        assert_eq!(
            day.body,
            "Your session starts in 24 hours: Thu 3 Dec 10:00 UTC."
        );
        assert_eq!(day.user_id, client);
        let hour = candidate(
            booking,
            60,
            client,
            session,
            starts,
            starts - chrono::Duration::hours(1),
        );
        assert_eq!(hour.title, "Session in an hour");
        assert_ne!(day.dedup_key, hour.dedup_key);
        let moved = starts + chrono::Duration::hours(2);
        let again = candidate(
            booking,
            60,
            client,
            session,
            moved,
            moved - chrono::Duration::hours(1),
        );
        assert_ne!(
            hour.dedup_key, again.dedup_key,
            "a moved session is reminded again"
        );
    }
}
