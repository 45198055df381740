//! Sink: progress tables in progressdb, written in the batch's transaction.

use chrono::{DateTime, NaiveDate, Utc};
use fitsync_analytics::{BestE1rm, WeeklyVolume};
use fitsync_events::SetLogged;
use sqlx::PgConnection;
use uuid::Uuid;

/// Inserts the facts; returns the set ids that were new (the rest were counted before).
pub async fn insert_facts(
    conn: &mut PgConnection,
    sets: &[(Uuid, SetLogged)],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let n = sets.len();
    let (
        mut ids,
        mut clients,
        mut exercises,
        mut reps,
        mut weights,
        mut rirs,
        mut times,
        mut events,
    ) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (event_id, s) in sets {
        ids.push(s.set_id);
        clients.push(s.client_id);
        exercises.push(s.exercise.clone());
        reps.push(s.reps);
        weights.push(s.weight_kg);
        rirs.push(s.rir);
        times.push(s.performed_at);
        events.push(*event_id);
    }
    sqlx::query_scalar!(
        "insert into set_facts (set_id, client_id, exercise, reps, weight_kg, rir, performed_at, event_id, counted_at)
         select *, clock_timestamp() from unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::float8[],
                                                $6::int[], $7::timestamptz[], $8::uuid[])
         on conflict (set_id) do nothing
         returning set_id",
        &ids,
        &clients,
        &exercises,
        &reps,
        &weights,
        &rirs as &[Option<i32>],
        &times,
        &events
    )
    .fetch_all(conn)
    .await
}

/// Keeps the better estimate; on a tie the earlier set, so order never matters.
pub async fn upsert_e1rm(conn: &mut PgConnection, best: &[BestE1rm]) -> Result<(), sqlx::Error> {
    if best.is_empty() {
        return Ok(());
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
    sqlx::query!(
        "insert into exercise_e1rm (client_id, exercise, e1rm_kg, e1rm_brzycki_kg, set_id, achieved_at)
         select * from unnest($1::uuid[], $2::text[], $3::float8[], $4::float8[], $5::uuid[], $6::timestamptz[])
         on conflict (client_id, exercise) do update
         set e1rm_kg = excluded.e1rm_kg, e1rm_brzycki_kg = excluded.e1rm_brzycki_kg,
             set_id = excluded.set_id, achieved_at = excluded.achieved_at, updated_at = now()
         where excluded.e1rm_kg > exercise_e1rm.e1rm_kg
            or (excluded.e1rm_kg = exercise_e1rm.e1rm_kg and excluded.achieved_at < exercise_e1rm.achieved_at)",
        &clients,
        &exercises as &[&str],
        &e1rm,
        &brzycki as &[Option<f64>],
        &sets,
        &at
    )
    .execute(conn)
    .await?;
    Ok(())
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
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let clients: Vec<Uuid> = weeks.iter().map(|w| parse_uuid(&w.client_id)).collect();
    let starts: Vec<NaiveDate> = weeks
        .iter()
        .map(|w| epoch + chrono::Days::new(u64::try_from(w.week_start_days).unwrap_or(0)))
        .collect();
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

fn parse_uuid(s: &str) -> Uuid {
    // The frame was built from Uuid::to_string, so this cannot fail.
    Uuid::parse_str(s).unwrap_or_default()
}
