//! Sink of adherence: program plans (the workouts each assignment still plans), workout
//! sessions (which planned workout a finished one carried out) and bookings, applied at
//! their newest revision; every (client, day) they touched is recomputed from the facts.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use fitsync_analytics::{BookingRow, DailyAdherence, PlannedRow};
use fitsync_events::{BookingChanged, PlanChanged, WorkoutChanged};
use sqlx::PgConnection;
use uuid::Uuid;

use super::sink::{date, days, parse_uuid};

pub type ClientDay = (Uuid, NaiveDate);

/// Replaces each assignment's planned workouts when the plan's revision is newer.
pub async fn apply_plans(
    conn: &mut PgConnection,
    plans: &[PlanChanged],
) -> Result<(HashSet<ClientDay>, usize), sqlx::Error> {
    let mut touched = HashSet::new();
    let mut stale = 0;
    for plan in plans {
        let newer = sqlx::query_scalar!(
            "insert into plan_facts (assignment_id, client_id, status, revision, time_zone)
             values ($1, $2, $3, $4, $5)
             on conflict (assignment_id) do update
             set status = excluded.status, revision = excluded.revision, time_zone = excluded.time_zone
             where excluded.revision > plan_facts.revision
             returning assignment_id",
            plan.assignment_id,
            plan.client_id,
            plan.status,
            plan.revision,
            plan.time_zone
        )
        .fetch_optional(&mut *conn)
        .await?;
        if newer.is_none() {
            stale += 1;
            continue;
        }
        let old = sqlx::query!(
            "delete from planned_facts where assignment_id = $1 returning client_id, day",
            plan.assignment_id
        )
        .fetch_all(&mut *conn)
        .await?;
        touched.extend(old.into_iter().map(|r| (r.client_id, r.day)));
        let ids: Vec<Uuid> = plan.planned.iter().map(|p| p.planned_workout_id).collect();
        let dates: Vec<NaiveDate> = plan.planned.iter().map(|p| p.date).collect();
        touched.extend(dates.iter().map(|d| (plan.client_id, *d)));
        sqlx::query!(
            "insert into planned_facts (planned_workout_id, assignment_id, client_id, day)
             select p, $3, $4, d from unnest($1::uuid[], $2::date[]) as t(p, d)
             on conflict (planned_workout_id) do update
             set assignment_id = excluded.assignment_id, client_id = excluded.client_id, day = excluded.day",
            &ids,
            &dates,
            plan.assignment_id,
            plan.client_id
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok((touched, stale))
}

/// Applies each workout's newest change; the days of the planned workouts it carried out
/// before and after are touched.
pub async fn apply_workouts(
    conn: &mut PgConnection,
    workouts: &[WorkoutChanged],
) -> Result<(HashSet<ClientDay>, usize), sqlx::Error> {
    let mut planned_ids = HashSet::new();
    let mut stale = 0;
    for w in workouts {
        let old = sqlx::query!(
            "select planned_workout_id, revision from workout_facts where workout_id = $1 for update",
            w.workout_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        if old.as_ref().is_some_and(|o| o.revision >= w.revision) {
            stale += 1;
            continue;
        }
        planned_ids.extend(old.and_then(|o| o.planned_workout_id));
        planned_ids.extend(w.planned_workout_id);
        sqlx::query!(
            "insert into workout_facts (workout_id, client_id, planned_workout_id, status, revision)
             values ($1, $2, $3, $4, $5)
             on conflict (workout_id) do update
             set planned_workout_id = excluded.planned_workout_id, status = excluded.status,
                 revision = excluded.revision",
            w.workout_id,
            w.client_id,
            w.planned_workout_id,
            w.status,
            w.revision
        )
        .execute(&mut *conn)
        .await?;
    }
    let ids: Vec<Uuid> = planned_ids.into_iter().collect();
    // A planned workout the job has not learnt of yet has no day: its plan's arrival
    // recomputes that day.
    let days = sqlx::query!(
        "select client_id, day from planned_facts where planned_workout_id = any($1)",
        &ids
    )
    .fetch_all(conn)
    .await?;
    Ok((
        days.into_iter().map(|r| (r.client_id, r.day)).collect(),
        stale,
    ))
}

/// Whether a booking's change shows it queued on a waitlist.
pub fn waitlisted(b: &BookingChanged) -> bool {
    b.status == "waitlisted"
        || matches!(
            b.change.as_str(),
            "waitlisted" | "promoted" | "waitlist_closed"
        )
}

/// Applies each booking's newest change; its session's day before and after is touched.
/// `flags` (waitlisted, promoted) are what any revision of each booking in the batch
/// showed: they are added to the booking's whether or not its revision is newer.
pub async fn apply_bookings(
    conn: &mut PgConnection,
    bookings: &[BookingChanged],
    flags: &HashMap<Uuid, (bool, bool)>,
) -> Result<(HashSet<ClientDay>, usize), sqlx::Error> {
    let ids: Vec<Uuid> = bookings.iter().map(|b| b.booking_id).collect();
    let held: HashMap<Uuid, (i32, NaiveDate)> = sqlx::query!(
        "select booking_id, revision, day from booking_facts where booking_id = any($1) for update",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.booking_id, (r.revision, r.day)))
    .collect();
    let mut touched = HashSet::new();
    let mut stale = 0;
    let mut fresh = Vec::new();
    for b in bookings {
        match held.get(&b.booking_id) {
            Some((revision, _)) if *revision >= b.revision => stale += 1,
            old => {
                if let Some((_, day)) = old {
                    touched.insert((b.client_id, *day));
                }
                touched.insert((b.client_id, b.starts_at.date_naive()));
                fresh.push(b);
            }
        }
    }
    for b in fresh {
        sqlx::query!(
            "insert into booking_facts (booking_id, client_id, trainer_id, session_id, starts_at, day, status, revision,
                                        session_type_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             on conflict (booking_id) do update
             set trainer_id = excluded.trainer_id, session_id = excluded.session_id, starts_at = excluded.starts_at,
                 day = excluded.day, status = excluded.status, revision = excluded.revision,
                 session_type_id = excluded.session_type_id",
            b.booking_id,
            b.client_id,
            b.trainer_id,
            b.session_id,
            b.starts_at,
            b.starts_at.date_naive(),
            b.status,
            b.revision,
            b.session_type_id
        )
        .execute(&mut *conn)
        .await?;
    }
    let (ids, (w, p)): (Vec<Uuid>, (Vec<bool>, Vec<bool>)) = flags
        .iter()
        .filter(|(_, (w, p))| *w || *p)
        .map(|(id, (w, p))| (*id, (*w, *p)))
        .unzip();
    if !ids.is_empty() {
        sqlx::query!(
            "update booking_facts b set waitlisted = b.waitlisted or k.w, promoted = b.promoted or k.p
             from unnest($1::uuid[], $2::bool[], $3::bool[]) as k(id, w, p)
             where b.booking_id = k.id and ((k.w and not b.waitlisted) or (k.p and not b.promoted))",
            &ids,
            &w,
            &p
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok((touched, stale))
}

/// The facts of some (client, day)s: planned workouts (done or not) and bookings.
pub async fn facts_of(
    conn: &mut PgConnection,
    keys: &HashSet<ClientDay>,
) -> Result<(Vec<PlannedRow>, Vec<BookingRow>), sqlx::Error> {
    let (clients, dates): (Vec<Uuid>, Vec<NaiveDate>) = keys.iter().copied().unzip();
    let planned = sqlx::query!(
        r#"select p.client_id, p.day,
                  exists (select 1 from workout_facts w
                          where w.planned_workout_id = p.planned_workout_id and w.status = 'finished')
                    as "completed!"
           from planned_facts p join unnest($1::uuid[], $2::date[]) as k(c, d)
             on p.client_id = k.c and p.day = k.d
           order by p.planned_workout_id"#,
        &clients,
        &dates
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| PlannedRow {
        client_id: r.client_id.to_string(),
        day: days(r.day),
        completed: r.completed,
    })
    .collect();
    let bookings = sqlx::query!(
        "select b.client_id, b.day, b.status
         from booking_facts b join unnest($1::uuid[], $2::date[]) as k(c, d)
           on b.client_id = k.c and b.day = k.d
         order by b.booking_id",
        &clients,
        &dates
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| BookingRow {
        client_id: r.client_id.to_string(),
        day: days(r.day),
        status: r.status,
    })
    .collect();
    Ok((planned, bookings))
}

/// Replaces the days of `keys` with `rows`.
pub async fn replace_days(
    conn: &mut PgConnection,
    keys: &HashSet<ClientDay>,
    rows: &[DailyAdherence],
) -> Result<(), sqlx::Error> {
    let (clients, dates): (Vec<Uuid>, Vec<NaiveDate>) = keys.iter().copied().unzip();
    sqlx::query!(
        "delete from daily_adherence a using unnest($1::uuid[], $2::date[]) as k(c, d)
         where a.client_id = k.c and a.day = k.d",
        &clients,
        &dates
    )
    .execute(&mut *conn)
    .await?;
    let n = |f: fn(&DailyAdherence) -> u32| -> Vec<i32> {
        rows.iter()
            .map(|r| i32::try_from(f(r)).unwrap_or(i32::MAX))
            .collect()
    };
    let clients: Vec<Uuid> = rows.iter().map(|r| parse_uuid(&r.client_id)).collect();
    let dates: Vec<NaiveDate> = rows.iter().map(|r| date(r.day)).collect();
    sqlx::query!(
        "insert into daily_adherence (client_id, day, planned, completed, sessions, attended, no_shows, late_cancels)
         select * from unnest($1::uuid[], $2::date[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[])",
        &clients,
        &dates,
        &n(|r| r.planned),
        &n(|r| r.completed),
        &n(|r| r.sessions),
        &n(|r| r.attended),
        &n(|r| r.no_shows),
        &n(|r| r.late_cancels)
    )
    .execute(conn)
    .await?;
    Ok(())
}
