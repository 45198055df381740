//! Sink of the per-day, per-week and per-exercise training results: first-seen sets add
//! to (or merge into) their rows; the keys a correction or deletion touched are replaced
//! by a recompute from the facts.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use fitsync_analytics::{DayAnalytics, MuscleWeek, RepRecord, SetRow};
use sqlx::PgConnection;
use uuid::Uuid;

use super::sink::{date, parse_uuid, week_of};

/// Replaces the per-day results of `keys` with `out` (a day no counted set has any more
/// keeps no row).
pub async fn replace_days(
    conn: &mut PgConnection,
    keys: &HashSet<(Uuid, NaiveDate)>,
    out: &DayAnalytics,
) -> Result<(), sqlx::Error> {
    let (clients, dates): (Vec<Uuid>, Vec<NaiveDate>) = keys.iter().copied().unzip();
    sqlx::query!(
        "with k as (select * from unnest($1::uuid[], $2::date[]) as k(c, d)),
              a as (delete from daily_training t using k where t.client_id = k.c and t.day = k.d),
              b as (delete from daily_e1rm t using k where t.client_id = k.c and t.day = k.d)
         delete from session_volume t using k where t.client_id = k.c and t.day = k.d",
        &clients,
        &dates
    )
    .execute(&mut *conn)
    .await?;
    add_days(conn, out).await
}

/// Adds per-day results to what is held (sets seen for the first time only add): sums
/// and counts add up (volumes as `numeric`, so exactly); the day's best e1RM keeps the
/// better set, on a tie the earlier, then the lower set id (as the plan orders them).
pub async fn add_days(conn: &mut PgConnection, out: &DayAnalytics) -> Result<(), sqlx::Error> {
    let d = &out.daily;
    let clients: Vec<Uuid> = d.iter().map(|r| parse_uuid(&r.client_id)).collect();
    let dates: Vec<NaiveDate> = d.iter().map(|r| date(r.day)).collect();
    let sets: Vec<i32> = d.iter().map(|r| to_i32(r.sets)).collect();
    let hard: Vec<i32> = d.iter().map(|r| to_i32(r.hard_sets)).collect();
    let reps: Vec<i64> = d.iter().map(|r| r.reps).collect();
    let volume: Vec<f64> = d.iter().map(|r| r.volume_kg).collect();
    sqlx::query!(
        "insert into daily_training (client_id, day, sets, hard_sets, reps, volume_kg)
         select c, d, s, h, r, round(v::numeric, 2)
         from unnest($1::uuid[], $2::date[], $3::int[], $4::int[], $5::bigint[], $6::float8[]) as t(c, d, s, h, r, v)
         on conflict (client_id, day) do update
         set sets = daily_training.sets + excluded.sets, hard_sets = daily_training.hard_sets + excluded.hard_sets,
             reps = daily_training.reps + excluded.reps, volume_kg = daily_training.volume_kg + excluded.volume_kg",
        &clients,
        &dates,
        &sets,
        &hard,
        &reps,
        &volume
    )
    .execute(&mut *conn)
    .await?;

    let e = &out.e1rm;
    let clients: Vec<Uuid> = e.iter().map(|r| parse_uuid(&r.client_id)).collect();
    let exercises: Vec<&str> = e.iter().map(|r| r.exercise.as_str()).collect();
    let dates: Vec<NaiveDate> = e.iter().map(|r| date(r.day)).collect();
    let e1rm: Vec<f64> = e.iter().map(|r| r.e1rm_kg).collect();
    let set_ids: Vec<Uuid> = e.iter().map(|r| parse_uuid(&r.set_id)).collect();
    let at: Vec<DateTime<Utc>> = e
        .iter()
        .map(|r| DateTime::from_timestamp_millis(r.performed_at_ms).unwrap_or_default())
        .collect();
    sqlx::query!(
        "insert into daily_e1rm (client_id, exercise, day, e1rm_kg, set_id, achieved_at)
         select * from unnest($1::uuid[], $2::text[], $3::date[], $4::float8[], $5::uuid[], $6::timestamptz[])
         on conflict (client_id, exercise, day) do update
         set e1rm_kg = excluded.e1rm_kg, set_id = excluded.set_id, achieved_at = excluded.achieved_at
         where (excluded.e1rm_kg, daily_e1rm.achieved_at, daily_e1rm.set_id::text)
             > (daily_e1rm.e1rm_kg, excluded.achieved_at, excluded.set_id::text)",
        &clients,
        &exercises as &[&str],
        &dates,
        &e1rm,
        &set_ids,
        &at
    )
    .execute(&mut *conn)
    .await?;

    let s = &out.sessions;
    let clients: Vec<Uuid> = s.iter().map(|r| parse_uuid(&r.client_id)).collect();
    let dates: Vec<NaiveDate> = s.iter().map(|r| date(r.day)).collect();
    let workouts: Vec<Uuid> = s
        .iter()
        .map(|r| r.workout_id.as_deref().map_or(Uuid::nil(), parse_uuid))
        .collect();
    let volume: Vec<f64> = s.iter().map(|r| r.volume_kg).collect();
    let sets: Vec<i32> = s.iter().map(|r| to_i32(r.sets)).collect();
    sqlx::query!(
        "insert into session_volume (client_id, day, workout_id, volume_kg, sets)
         select c, d, w, round(v::numeric, 2), s
         from unnest($1::uuid[], $2::date[], $3::uuid[], $4::float8[], $5::int[]) as t(c, d, w, v, s)
         on conflict (client_id, day, workout_id) do update
         set volume_kg = session_volume.volume_kg + excluded.volume_kg, sets = session_volume.sets + excluded.sets",
        &clients,
        &dates,
        &workouts,
        &volume,
        &sets
    )
    .execute(conn)
    .await?;
    Ok(())
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Merges records of sets seen for the first time: the heavier set wins; on a tie the
/// earlier, then the lower set id (as `rep_records` orders them), so order never matters.
pub async fn merge_records(
    conn: &mut PgConnection,
    records: &[RepRecord],
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let clients: Vec<Uuid> = records.iter().map(|r| parse_uuid(&r.client_id)).collect();
    let exercises: Vec<&str> = records.iter().map(|r| r.exercise.as_str()).collect();
    let reps: Vec<i32> = records.iter().map(|r| r.reps).collect();
    let weights: Vec<f64> = records.iter().map(|r| r.weight_kg).collect();
    let set_ids: Vec<Uuid> = records.iter().map(|r| parse_uuid(&r.set_id)).collect();
    let at: Vec<DateTime<Utc>> = records
        .iter()
        .map(|r| DateTime::from_timestamp_millis(r.performed_at_ms).unwrap_or_default())
        .collect();
    let dates: Vec<NaiveDate> = records.iter().map(|r| date(r.day)).collect();
    sqlx::query!(
        "insert into rep_records (client_id, exercise, reps, weight_kg, set_id, achieved_at, day)
         select * from unnest($1::uuid[], $2::text[], $3::int[], $4::float8[], $5::uuid[], $6::timestamptz[],
                              $7::date[])
         on conflict (client_id, exercise, reps) do update
         set weight_kg = excluded.weight_kg, set_id = excluded.set_id, achieved_at = excluded.achieved_at,
             day = excluded.day
         where (excluded.weight_kg, rep_records.achieved_at, rep_records.set_id::text)
             > (rep_records.weight_kg, excluded.achieved_at, excluded.set_id::text)",
        &clients,
        &exercises as &[&str],
        &reps,
        &weights,
        &set_ids,
        &at,
        &dates
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the records of recomputed (client, exercise) pairs.
pub async fn replace_records(
    conn: &mut PgConnection,
    keys: &HashSet<(Uuid, String)>,
    records: &[RepRecord],
) -> Result<(), sqlx::Error> {
    let (clients, exercises): (Vec<Uuid>, Vec<String>) = keys.iter().cloned().unzip();
    sqlx::query!(
        "delete from rep_records r using unnest($1::uuid[], $2::text[]) as k(c, x)
         where r.client_id = k.c and r.exercise = k.x",
        &clients,
        &exercises
    )
    .execute(&mut *conn)
    .await?;
    merge_records(conn, records).await
}

/// The (client, week) of every counted set of some exercises (whose muscles changed).
pub async fn weeks_of_exercises(
    conn: &mut PgConnection,
    slugs: &[String],
) -> Result<HashSet<(Uuid, NaiveDate)>, sqlx::Error> {
    if slugs.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = sqlx::query!(
        r#"select distinct client_id, local_date - (extract(isodow from local_date)::int - 1) as "week!"
           from set_facts where exercise = any($1) and not deleted"#,
        slugs
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.client_id, r.week)).collect())
}

/// The primary muscles of some exercises, one (exercise, muscle) pair each.
pub async fn muscles_of(
    conn: &mut PgConnection,
    sets: &[SetRow],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let slugs: HashSet<&str> = sets.iter().map(|s| s.exercise.as_str()).collect();
    let slugs: Vec<&str> = slugs.into_iter().collect();
    let rows = sqlx::query!(
        r#"select distinct slug, unnest(primary_muscles) as "muscle!" from exercise_catalog where slug = any($1)"#,
        &slugs as &[&str]
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.slug, r.muscle)).collect())
}

/// Replaces the muscle weeks of `keys` with `rows`.
pub async fn replace_muscle_weeks(
    conn: &mut PgConnection,
    keys: &HashSet<(Uuid, NaiveDate)>,
    rows: &[MuscleWeek],
) -> Result<(), sqlx::Error> {
    let (clients, weeks): (Vec<Uuid>, Vec<NaiveDate>) = keys.iter().copied().unzip();
    sqlx::query!(
        "delete from muscle_weekly m using unnest($1::uuid[], $2::date[]) as k(c, w)
         where m.client_id = k.c and m.week_start = k.w",
        &clients,
        &weeks
    )
    .execute(&mut *conn)
    .await?;
    add_muscle_weeks(conn, rows).await
}

/// Adds muscle weeks of sets seen for the first time to what is held.
pub async fn add_muscle_weeks(
    conn: &mut PgConnection,
    rows: &[MuscleWeek],
) -> Result<(), sqlx::Error> {
    let clients: Vec<Uuid> = rows.iter().map(|r| parse_uuid(&r.client_id)).collect();
    let weeks: Vec<NaiveDate> = rows.iter().map(|r| date(r.week_start)).collect();
    let muscles: Vec<&str> = rows.iter().map(|r| r.muscle.as_str()).collect();
    let sets: Vec<i32> = rows.iter().map(|r| to_i32(r.sets)).collect();
    let hard: Vec<i32> = rows.iter().map(|r| to_i32(r.hard_sets)).collect();
    let volume: Vec<f64> = rows.iter().map(|r| r.volume_kg).collect();
    sqlx::query!(
        "insert into muscle_weekly (client_id, week_start, muscle, sets, hard_sets, volume_kg)
         select c, w, m, s, h, round(v::numeric, 2)
         from unnest($1::uuid[], $2::date[], $3::text[], $4::int[], $5::int[], $6::float8[]) as t(c, w, m, s, h, v)
         on conflict (client_id, week_start, muscle) do update
         set sets = muscle_weekly.sets + excluded.sets, hard_sets = muscle_weekly.hard_sets + excluded.hard_sets,
             volume_kg = muscle_weekly.volume_kg + excluded.volume_kg",
        &clients,
        &weeks,
        &muscles as &[&str],
        &sets,
        &hard,
        &volume
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The weeks of some days.
pub fn weeks_of(days: &HashSet<(Uuid, NaiveDate)>) -> HashSet<(Uuid, NaiveDate)> {
    days.iter().map(|(c, d)| (*c, week_of(*d))).collect()
}
