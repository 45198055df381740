//! Nutrition in progressdb: food entries and diet targets → what each client ate per
//! day and the adherence to that day's targets. Every day a change touched is recomputed
//! from the facts, so the results are those of a fresh computation over the log.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use fitsync_analytics::{adherence, DailyIntake, FoodRow};
use fitsync_events::DietAssignmentChanged;
use sqlx::PgConnection;
use uuid::Uuid;

use super::decode::FoodChange;

pub type Day = (Uuid, NaiveDate);

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

fn days_of(date: NaiveDate) -> i32 {
    i32::try_from((date - epoch()).num_days()).unwrap_or(i32::MAX)
}

fn date_of(days: i32) -> NaiveDate {
    epoch() + chrono::Duration::days(i64::from(days))
}

/// Applies each entry's newest change over the revision held; returns the days it
/// touched and how many changes were stale.
pub async fn apply_food(
    conn: &mut PgConnection,
    changes: &[(Uuid, FoodChange)],
) -> Result<(HashSet<Day>, usize), sqlx::Error> {
    let mut touched = HashSet::new();
    if changes.is_empty() {
        return Ok((touched, 0));
    }
    let ids: Vec<Uuid> = changes.iter().map(|(_, c)| c.entry_id).collect();
    let held: HashMap<Uuid, (NaiveDate, i32)> = sqlx::query!(
        "select entry_id, date, revision from food_facts where entry_id = any($1) for update",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.entry_id, (r.date, r.revision)))
    .collect();
    let mut stale = 0;
    for (event_id, change) in changes {
        let old = held.get(&change.entry_id);
        if old.is_some_and(|(_, revision)| change.revision <= *revision) {
            stale += 1;
            continue;
        }
        if let Some((date, _)) = old {
            touched.insert((change.client_id, *date));
        }
        match &change.logged {
            Some(f) => {
                touched.insert((f.client_id, f.date));
                let n = f.per_100g;
                sqlx::query!(
                    "insert into food_facts (entry_id, client_id, date, grams, kcal, protein_g, carbs_g, fat_g,
                                             fiber_g, revision, event_id)
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     on conflict (entry_id) do nothing",
                    f.entry_id,
                    f.client_id,
                    f.date,
                    f.grams,
                    n.kcal,
                    n.protein_g,
                    n.carbs_g,
                    n.fat_g,
                    n.fiber_g,
                    change.revision,
                    event_id
                )
                .execute(&mut *conn)
                .await?;
            }
            // Deleted: a tombstone (with no values if the entry was never seen).
            None => {
                sqlx::query!(
                    "insert into food_facts (entry_id, client_id, date, grams, kcal, protein_g, carbs_g, fat_g,
                                             fiber_g, revision, deleted, event_id)
                     values ($1, $2, '1970-01-01', 0, 0, 0, 0, 0, 0, $3, true, $4)
                     on conflict (entry_id) do update
                     set deleted = true, revision = excluded.revision, event_id = excluded.event_id,
                         counted_at = now()
                     where excluded.revision > food_facts.revision",
                    change.entry_id,
                    change.client_id,
                    change.revision,
                    event_id
                )
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok((touched, stale))
}

/// Keeps each assignment's newest targets; returns the logged days whose targets may
/// have changed (the client's days from the earlier of the old and new start).
pub async fn apply_targets(
    conn: &mut PgConnection,
    targets: &[DietAssignmentChanged],
) -> Result<HashSet<Day>, sqlx::Error> {
    let mut touched = HashSet::new();
    for a in targets {
        let t = a.targets;
        let old_start = sqlx::query_scalar!(
            r#"with old as (select start_date from diet_targets where assignment_id = $1)
               insert into diet_targets (assignment_id, client_id, start_date, end_date, kcal, protein_g,
                                         carbs_g, fat_g, fiber_g, revision)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               on conflict (assignment_id) do update
               set start_date = excluded.start_date, end_date = excluded.end_date, kcal = excluded.kcal,
                   protein_g = excluded.protein_g, carbs_g = excluded.carbs_g, fat_g = excluded.fat_g,
                   fiber_g = excluded.fiber_g, revision = excluded.revision
               where excluded.revision > diet_targets.revision
               returning (select start_date from old) as "old_start""#,
            a.assignment_id,
            a.client_id,
            a.start_date,
            a.end_date,
            t.kcal,
            t.protein_g,
            t.carbs_g,
            t.fat_g,
            t.fiber_g,
            a.revision
        )
        .fetch_optional(&mut *conn)
        .await?;
        // No row returned: an older revision, nothing changed.
        let Some(old_start) = old_start else { continue };
        let from = old_start.map_or(a.start_date, |o| o.min(a.start_date));
        let days = sqlx::query_scalar!(
            "select distinct date from food_facts where client_id = $1 and date >= $2 and not deleted",
            a.client_id,
            from
        )
        .fetch_all(&mut *conn)
        .await?;
        touched.extend(days.into_iter().map(|d| (a.client_id, d)));
    }
    Ok(touched)
}

/// The counted entries of some days, for a recompute.
pub async fn facts_of_days(
    conn: &mut PgConnection,
    days: &HashSet<Day>,
) -> Result<Vec<FoodRow>, sqlx::Error> {
    let (clients, dates): (Vec<Uuid>, Vec<NaiveDate>) = days.iter().copied().unzip();
    let rows = sqlx::query!(
        "select f.client_id, f.date, f.grams, f.kcal, f.protein_g, f.carbs_g, f.fat_g, f.fiber_g
         from food_facts f join unnest($1::uuid[], $2::date[]) as k(c, d)
           on f.client_id = k.c and f.date = k.d
         where not f.deleted",
        &clients,
        &dates
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| FoodRow {
            client_id: r.client_id.to_string(),
            date_days: days_of(r.date),
            grams: r.grams,
            per_100g: [r.kcal, r.protein_g, r.carbs_g, r.fat_g, r.fiber_g],
        })
        .collect())
}

/// Replaces the results of the recomputed days: the intake found, with the targets that
/// applied that day (the assignment that started last on or before it, if it had not
/// ended), and nothing for a day no entry counts on any more.
pub async fn replace_days(
    conn: &mut PgConnection,
    days: &HashSet<Day>,
    intake: &[DailyIntake],
) -> Result<(), sqlx::Error> {
    let (clients, dates): (Vec<Uuid>, Vec<NaiveDate>) = days.iter().copied().unzip();
    sqlx::query!(
        "delete from daily_nutrition n using unnest($1::uuid[], $2::date[]) as k(c, d)
         where n.client_id = k.c and n.date = k.d",
        &clients,
        &dates
    )
    .execute(&mut *conn)
    .await?;
    for day in intake {
        let client = Uuid::parse_str(&day.client_id).unwrap_or_default();
        let date = date_of(day.date_days);
        let targets = sqlx::query!(
            "select kcal, protein_g, carbs_g, fat_g, fiber_g from diet_targets
             where client_id = $1 and start_date <= $2 and (end_date is null or end_date >= $2)
             order by start_date desc, assignment_id desc limit 1",
            client,
            date
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|t| [t.kcal, t.protein_g, t.carbs_g, t.fat_g, t.fiber_g]);
        let score = targets.as_ref().and_then(|t| adherence(&day.eaten, t));
        let [kcal, protein, carbs, fat, fiber] = day.eaten;
        let target = |i: usize| targets.map(|t| t[i]);
        sqlx::query!(
            "insert into daily_nutrition (client_id, date, kcal, protein_g, carbs_g, fat_g, fiber_g, entries,
                                          target_kcal, target_protein_g, target_carbs_g, target_fat_g,
                                          target_fiber_g, adherence_percent)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            client,
            date,
            kcal,
            protein,
            carbs,
            fat,
            fiber,
            i32::try_from(day.entries).unwrap_or(i32::MAX),
            target(0),
            target(1),
            target(2),
            target(3),
            target(4),
            score
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
