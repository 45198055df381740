//! Sink: progress tables in progressdb, written in the batch's transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fitsync_analytics::{BestE1rm, SetRow, WeeklyVolume};
use fitsync_events::{ExerciseDefined, SetLogged};
use sqlx::PgConnection;
use uuid::Uuid;

use super::decode::SetChange;

/// A fact as the job holds it before a change.
struct Held {
    client_id: Uuid,
    exercise: String,
    performed_at: DateTime<Utc>,
    local_date: NaiveDate,
    revision: i32,
    deleted: bool,
}

/// A counted set as `set_facts` holds it.
pub struct Fact {
    pub set_id: Uuid,
    pub client_id: Uuid,
    pub exercise: String,
    pub reps: i32,
    pub weight_kg: f64,
    pub rir: Option<i32>,
    pub performed_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub failed: bool,
    pub workout_id: Option<Uuid>,
}

impl From<Fact> for SetRow {
    fn from(f: Fact) -> Self {
        SetRow {
            set_id: f.set_id.to_string(),
            client_id: f.client_id.to_string(),
            exercise: f.exercise,
            reps: f.reps,
            weight_kg: f.weight_kg,
            rir: f.rir,
            performed_at_ms: f.performed_at.timestamp_millis(),
            local_day: days(f.local_date),
            failed: f.failed,
            workout_id: f.workout_id.map(|w| w.to_string()),
        }
    }
}

/// A set as the analytics frames take it.
pub fn set_row(s: &SetLogged) -> SetRow {
    SetRow {
        set_id: s.set_id.to_string(),
        client_id: s.client_id.to_string(),
        exercise: s.exercise.clone(),
        reps: s.reps,
        weight_kg: s.weight_kg,
        rir: s.rir,
        performed_at_ms: s.performed_at.timestamp_millis(),
        local_day: days(s.day()),
        failed: s.failed,
        workout_id: s.workout_id.map(|w| w.to_string()),
    }
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");

/// A date as days since the Unix epoch (the frames' day columns).
pub fn days(date: NaiveDate) -> i32 {
    i32::try_from((date - EPOCH).num_days()).unwrap_or(i32::MAX)
}

/// Days since the Unix epoch as a date.
pub fn date(days: i32) -> NaiveDate {
    EPOCH + chrono::Duration::days(i64::from(days))
}

/// What a batch of set changes did to the facts.
#[derive(Default)]
pub struct Applied {
    /// Sets seen for the first time: they only add, so they are aggregated incrementally.
    pub appended: Vec<SetLogged>,
    /// (client, exercise) and (client, week) whose results a correction or deletion
    /// changed: recomputed from the facts.
    pub exercises: HashSet<(Uuid, String)>,
    pub weeks: HashSet<(Uuid, NaiveDate)>,
    /// Every (client, local day) a correction or deletion took effect on (before and
    /// after it): the per-day results are recomputed from the facts.
    pub days: HashSet<(Uuid, NaiveDate)>,
    /// Changes that took effect, by set id.
    pub set_ids: Vec<Uuid>,
    /// Changes at or below a revision already held (replays).
    pub stale: usize,
}

/// Monday of the ISO week of a local day, as the weekly plans truncate it.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// Applies the newest change of each set to the facts, if newer than what is held;
/// returns what the results need to follow.
pub async fn apply_changes(
    conn: &mut PgConnection,
    changes: &[(Uuid, SetChange)],
) -> Result<Applied, sqlx::Error> {
    let ids: Vec<Uuid> = changes.iter().map(|(_, c)| c.set.set_id).collect();
    let held: HashMap<Uuid, Held> = sqlx::query!(
        "select set_id, client_id, exercise, performed_at, local_date, revision, deleted
         from set_facts where set_id = any($1) for update",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.set_id,
            Held {
                client_id: r.client_id,
                exercise: r.exercise,
                performed_at: r.performed_at,
                local_date: r.local_date,
                revision: r.revision,
                deleted: r.deleted,
            },
        )
    })
    .collect();

    let mut applied = Applied::default();
    let mut rows: Vec<(Uuid, SetLogged, i32, bool)> = Vec::with_capacity(changes.len());
    for (event_id, change) in changes {
        let set = &change.set;
        match held.get(&set.set_id) {
            Some(old) if change.revision <= old.revision => {
                applied.stale += 1;
                continue;
            }
            Some(old) => {
                if !old.deleted {
                    applied
                        .exercises
                        .insert((old.client_id, old.exercise.clone()));
                    applied
                        .weeks
                        .insert((old.client_id, week_of(old.local_date)));
                    applied.days.insert((old.client_id, old.local_date));
                }
                if !change.deleted {
                    applied
                        .exercises
                        .insert((set.client_id, set.exercise.clone()));
                    applied.weeks.insert((set.client_id, week_of(set.day())));
                    applied.days.insert((set.client_id, set.day()));
                }
            }
            None if !change.deleted => applied.appended.push(set.clone()),
            // Deleted before the job saw it: a tombstone, nothing was counted.
            None => {}
        }
        applied.set_ids.push(set.set_id);
        // A tombstone keeps the values it had (they say what was retracted).
        let mut values = set.clone();
        if change.deleted {
            if let Some(old) = held.get(&set.set_id) {
                values.exercise.clone_from(&old.exercise);
                values.performed_at = old.performed_at;
                values.local_date = Some(old.local_date);
            }
        }
        rows.push((*event_id, values, change.revision, change.deleted));
    }
    write_facts(conn, &rows).await?;
    Ok(applied)
}

async fn write_facts(
    conn: &mut PgConnection,
    rows: &[(Uuid, SetLogged, i32, bool)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len();
    let (mut ids, mut clients, mut exercises, mut reps, mut weights, mut rirs) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut times, mut events, mut revisions, mut deleted) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut local, mut failed, mut workouts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (event_id, s, revision, gone) in rows {
        ids.push(s.set_id);
        clients.push(s.client_id);
        exercises.push(s.exercise.clone());
        reps.push(s.reps);
        weights.push(s.weight_kg);
        rirs.push(s.rir);
        times.push(s.performed_at);
        events.push(*event_id);
        revisions.push(*revision);
        deleted.push(*gone);
        local.push(s.day());
        failed.push(s.failed);
        workouts.push(s.workout_id);
    }
    sqlx::query!(
        "insert into set_facts (set_id, client_id, exercise, reps, weight_kg, rir, performed_at, event_id,
                                revision, deleted, local_date, failed, workout_id, counted_at)
         select *, clock_timestamp() from unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::float8[],
                                                $6::int[], $7::timestamptz[], $8::uuid[], $9::int[], $10::bool[],
                                                $11::date[], $12::bool[], $13::uuid[])
         on conflict (set_id) do update
         set exercise = excluded.exercise, reps = case when excluded.deleted then set_facts.reps else excluded.reps end,
             weight_kg = case when excluded.deleted then set_facts.weight_kg else excluded.weight_kg end,
             rir = case when excluded.deleted then set_facts.rir else excluded.rir end,
             failed = case when excluded.deleted then set_facts.failed else excluded.failed end,
             workout_id = case when excluded.deleted then set_facts.workout_id else excluded.workout_id end,
             performed_at = excluded.performed_at, local_date = excluded.local_date, event_id = excluded.event_id,
             revision = excluded.revision, deleted = excluded.deleted, counted_at = excluded.counted_at
         where excluded.revision > set_facts.revision",
        &ids,
        &clients,
        &exercises,
        &reps,
        &weights,
        &rirs as &[Option<i32>],
        &times,
        &events,
        &revisions,
        &deleted,
        &local,
        &failed,
        &workouts as &[Option<Uuid>]
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The counted sets of some (client, exercise) pairs, for a recompute.
pub async fn facts_of_exercises(
    conn: &mut PgConnection,
    keys: &HashSet<(Uuid, String)>,
) -> Result<Vec<SetRow>, sqlx::Error> {
    let (clients, exercises): (Vec<Uuid>, Vec<String>) = keys.iter().cloned().unzip();
    let rows = sqlx::query_as!(
        Fact,
        "select f.set_id, f.client_id, f.exercise, f.reps, f.weight_kg, f.rir, f.performed_at, f.local_date,
                f.failed, f.workout_id
         from set_facts f join unnest($1::uuid[], $2::text[]) as k(c, e)
           on f.client_id = k.c and f.exercise = k.e
         where not f.deleted",
        &clients,
        &exercises
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(SetRow::from).collect())
}

/// The counted sets of some (client, local ISO week) pairs, for a recompute.
pub async fn facts_of_weeks(
    conn: &mut PgConnection,
    keys: &HashSet<(Uuid, NaiveDate)>,
) -> Result<Vec<SetRow>, sqlx::Error> {
    let (clients, weeks): (Vec<Uuid>, Vec<NaiveDate>) = keys.iter().copied().unzip();
    let rows = sqlx::query_as!(
        Fact,
        "select f.set_id, f.client_id, f.exercise, f.reps, f.weight_kg, f.rir, f.performed_at, f.local_date,
                f.failed, f.workout_id
         from set_facts f join unnest($1::uuid[], $2::date[]) as k(c, w)
           on f.client_id = k.c and f.local_date >= k.w and f.local_date < k.w + 7
         where not f.deleted",
        &clients,
        &weeks
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(SetRow::from).collect())
}

/// The counted sets of some (client, local day) pairs, for a recompute.
pub async fn facts_of_days(
    conn: &mut PgConnection,
    keys: &HashSet<(Uuid, NaiveDate)>,
) -> Result<Vec<SetRow>, sqlx::Error> {
    let (clients, days): (Vec<Uuid>, Vec<NaiveDate>) = keys.iter().copied().unzip();
    let rows = sqlx::query_as!(
        Fact,
        "select f.set_id, f.client_id, f.exercise, f.reps, f.weight_kg, f.rir, f.performed_at, f.local_date,
                f.failed, f.workout_id
         from set_facts f join unnest($1::uuid[], $2::date[]) as k(c, d)
           on f.client_id = k.c and f.local_date = k.d
         where not f.deleted",
        &clients,
        &days
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(SetRow::from).collect())
}

/// Replaces the results of the recomputed keys: what a recompute found, and nothing
/// for a key no counted set has any more.
pub async fn replace_results(
    conn: &mut PgConnection,
    exercises: &HashSet<(Uuid, String)>,
    weeks: &HashSet<(Uuid, NaiveDate)>,
    best: &[BestE1rm],
    volume: &[WeeklyVolume],
) -> Result<(), sqlx::Error> {
    let (clients, names): (Vec<Uuid>, Vec<String>) = exercises.iter().cloned().unzip();
    sqlx::query!(
        "delete from exercise_e1rm e using unnest($1::uuid[], $2::text[]) as k(c, x)
         where e.client_id = k.c and e.exercise = k.x",
        &clients,
        &names
    )
    .execute(&mut *conn)
    .await?;
    let (clients, starts): (Vec<Uuid>, Vec<NaiveDate>) = weeks.iter().copied().unzip();
    sqlx::query!(
        "delete from weekly_volume v using unnest($1::uuid[], $2::date[]) as k(c, w)
         where v.client_id = k.c and v.week_start = k.w",
        &clients,
        &starts
    )
    .execute(&mut *conn)
    .await?;
    // A recompute is not a record: corrections signal nothing.
    upsert_e1rm(conn, best).await?;
    add_volume(conn, volume).await
}

/// Keeps the newest revision of each exercise's definition; returns the slugs whose
/// definition changed (their sets' muscles may have).
pub async fn upsert_exercises(
    conn: &mut PgConnection,
    exercises: &[ExerciseDefined],
) -> Result<Vec<String>, sqlx::Error> {
    if exercises.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = exercises.iter().map(|e| e.exercise_id).collect();
    let slugs: Vec<&str> = exercises.iter().map(|e| e.slug.as_str()).collect();
    let names: Vec<&str> = exercises.iter().map(|e| e.name.as_str()).collect();
    let muscles = |m: &[fitsync_events::Muscle]| {
        serde_json::json!(m.iter().map(|m| m.as_str()).collect::<Vec<_>>())
    };
    let primary: Vec<serde_json::Value> = exercises
        .iter()
        .map(|e| muscles(&e.primary_muscles))
        .collect();
    let secondary: Vec<serde_json::Value> = exercises
        .iter()
        .map(|e| muscles(&e.secondary_muscles))
        .collect();
    let revisions: Vec<i64> = exercises.iter().map(|e| e.revision).collect();
    sqlx::query_scalar!(
        "insert into exercise_catalog (exercise_id, slug, name, primary_muscles, secondary_muscles, revision)
         select i, s, n, array(select jsonb_array_elements_text(p)), array(select jsonb_array_elements_text(q)), r
         from unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::bigint[]) as t(i, s, n, p, q, r)
         on conflict (exercise_id) do update
         set slug = excluded.slug, name = excluded.name, primary_muscles = excluded.primary_muscles,
             secondary_muscles = excluded.secondary_muscles, revision = excluded.revision, updated_at = now()
         where excluded.revision > exercise_catalog.revision
         returning slug",
        &ids,
        &slugs as &[&str],
        &names as &[&str],
        &primary,
        &secondary,
        &revisions
    )
    .fetch_all(conn)
    .await
}

/// A best e1RM that went up over one already held: a personal record.
#[derive(Debug, Clone, PartialEq)]
pub struct Improved {
    pub client_id: Uuid,
    pub exercise: String,
    pub e1rm_kg: f64,
    pub previous_kg: f64,
    pub set_id: Uuid,
    pub achieved_at: DateTime<Utc>,
}

/// Keeps the better estimate; on a tie the earlier set, so order never matters. Returns
/// the estimates that went up over one held before (a first estimate is a baseline).
pub async fn upsert_e1rm(
    conn: &mut PgConnection,
    best: &[BestE1rm],
) -> Result<Vec<Improved>, sqlx::Error> {
    if best.is_empty() {
        return Ok(Vec::new());
    }
    let clients: Vec<Uuid> = best.iter().map(|b| parse_uuid(&b.client_id)).collect();
    let exercises: Vec<&str> = best.iter().map(|b| b.exercise.as_str()).collect();
    let e1rm: Vec<f64> = best.iter().map(|b| b.e1rm_kg).collect();
    let brzycki: Vec<Option<f64>> = best.iter().map(|b| b.e1rm_brzycki_kg).collect();
    let sets: Vec<Uuid> = best.iter().map(|b| parse_uuid(&b.set_id)).collect();
    let at: Vec<DateTime<Utc>> = best
        .iter()
        .map(|b| DateTime::from_timestamp_millis(b.performed_at_ms).unwrap_or_default())
        .collect();
    // `held` reads the table as it was before the statement (one snapshot for all of it).
    let rows = sqlx::query!(
        r#"with k as (select * from unnest($1::uuid[], $2::text[], $3::float8[], $4::float8[], $5::uuid[], $6::timestamptz[])
                      as k(c, x, e, b, s, a)),
              held as (select e.client_id, e.exercise, e.e1rm_kg from exercise_e1rm e
                       join k on e.client_id = k.c and e.exercise = k.x),
              up as (insert into exercise_e1rm (client_id, exercise, e1rm_kg, e1rm_brzycki_kg, set_id, achieved_at)
                     select c, x, e, b, s, a from k
                     on conflict (client_id, exercise) do update
                     set e1rm_kg = excluded.e1rm_kg, e1rm_brzycki_kg = excluded.e1rm_brzycki_kg,
                         set_id = excluded.set_id, achieved_at = excluded.achieved_at, updated_at = now()
                     where excluded.e1rm_kg > exercise_e1rm.e1rm_kg
                        or (excluded.e1rm_kg = exercise_e1rm.e1rm_kg and excluded.achieved_at < exercise_e1rm.achieved_at)
                        or (excluded.e1rm_kg = exercise_e1rm.e1rm_kg and excluded.achieved_at = exercise_e1rm.achieved_at
                            and excluded.set_id::text < exercise_e1rm.set_id::text)
                     returning client_id, exercise, e1rm_kg, set_id, achieved_at)
           select up.client_id as "client_id!", up.exercise as "exercise!", up.e1rm_kg as "e1rm_kg!",
                  up.set_id as "set_id!", up.achieved_at as "achieved_at!", held.e1rm_kg as "previous_kg!"
           from up join held using (client_id, exercise)
           where up.e1rm_kg > held.e1rm_kg"#,
        &clients,
        &exercises as &[&str],
        &e1rm,
        &brzycki as &[Option<f64>],
        &sets,
        &at
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Improved {
            client_id: r.client_id,
            exercise: r.exercise,
            e1rm_kg: r.e1rm_kg,
            previous_kg: r.previous_kg,
            set_id: r.set_id,
            achieved_at: r.achieved_at,
        })
        .collect())
}

/// Adds the batch's volume. Each contribution is rounded to 10 g and summed as
/// `numeric`, so totals are exact whatever the batch boundaries were.
pub async fn add_volume(
    conn: &mut PgConnection,
    weeks: &[WeeklyVolume],
) -> Result<(), sqlx::Error> {
    if weeks.is_empty() {
        return Ok(());
    }
    let clients: Vec<Uuid> = weeks.iter().map(|w| parse_uuid(&w.client_id)).collect();
    let starts: Vec<NaiveDate> = weeks.iter().map(|w| date(w.week_start_days)).collect();
    let volume: Vec<f64> = weeks.iter().map(|w| w.volume_kg).collect();
    let sets: Vec<i32> = weeks
        .iter()
        .map(|w| i32::try_from(w.sets).unwrap_or(i32::MAX))
        .collect();
    sqlx::query!(
        "insert into weekly_volume (client_id, week_start, volume_kg, sets)
         select c, w, round(v::numeric, 2), s from unnest($1::uuid[], $2::date[], $3::float8[], $4::int[]) as t(c, w, v, s)
         on conflict (client_id, week_start) do update
         set volume_kg = weekly_volume.volume_kg + excluded.volume_kg,
             sets = weekly_volume.sets + excluded.sets, updated_at = now()",
        &clients,
        &starts,
        &volume,
        &sets
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) fn parse_uuid(s: &str) -> Uuid {
    // The frame was built from Uuid::to_string, so this cannot fail.
    Uuid::parse_str(s).unwrap_or_default()
}
