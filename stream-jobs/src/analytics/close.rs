//! The day-close pass: a missed planned workout is the absence of an event, so no batch
//! would ever see it. Every `POLL`, this pass looks for planned workouts whose local day
//! (in their assignment's time zone) has ended, at most `MISSED_NEWS_DAYS` ago, with no
//! finished workout carrying them out, and signals each once
//! (`fitsync.progress.workout_missed.v1`), with the client's adherence over the seven
//! days ending on that day and over the seven before, read from `daily_adherence` (the
//! job's own results). The mark (`missed_workouts`) and the signal are written in one
//! transaction, so a crash signals nothing or everything, and a second replica's pass
//! finds the mark's key taken and signals nothing (not tested with two replicas).
//!
//! The same pass summarises each coached client's last week once it has ended in the
//! client's time zone (that of their newest program assignment; UTC without one; the
//! zone of a diet assignment, which the training service also counts sets' days in, is
//! not known here), six hours into the Monday after
//! (`fitsync.progress.weekly_summary.v1`, marked in `weekly_summaries`), likewise from the
//! job's results: training days, sets and volume (`daily_training`), records
//! (`daily_e1rm`), planned and done (`daily_adherence`); and judges, once, each exercise
//! trained in that week for a plateau (`fitsync.progress.plateau.v1`: the weekly best
//! e1RM's least-squares slope over the six weeks ending with it, fitted with Polars as
//! the plateau chart fits it, is zero or below).

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fitsync_events::{
    CloudEvent, Topic, WeeklySummary, WorkoutMissed, MISSED_NEWS_DAYS, PLATEAU_V1,
    WEEKLY_SUMMARY_V1, WORKOUT_MISSED_V1,
};
use fitsync_platform::outbox;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::signals::trainers_of;

/// How often the pass looks.
const POLL: Duration = Duration::from_secs(2);
/// Planned workouts signalled per transaction.
const BATCH: usize = 500;

/// Runs the pass until `shutdown`.
pub async fn run(pool: PgPool, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let signalled = async { anyhow::Ok((round(&pool).await?, summarize(&pool).await?)) };
        let wait = match signalled.await {
            Ok((missed, summaries)) if missed == BATCH || summaries == BATCH => Duration::ZERO,
            Ok(_) => {
                backoff = Duration::from_millis(100);
                POLL
            }
            Err(e) => {
                tracing::warn!(error = %e, "closing planned days failed; retrying");
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

/// A planned workout the pass may close.
struct Open {
    planned_workout_id: Uuid,
    assignment_id: Uuid,
    client_id: Uuid,
    day: NaiveDate,
    time_zone: String,
}

/// Hours into a client's Monday before their last week is summarised: sets logged late
/// on Sunday night still count, and a summary reaches nobody at midnight.
const SUMMARY_GRACE_HOURS: i64 = 6;

/// The week (its Monday) to summarise at `now` for a client in `zone`: the last one that
/// has ended there, from Monday 06:00 local time. An unknown zone reads as UTC.
fn due_week(now: DateTime<Utc>, zone: &str) -> NaiveDate {
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    let day = (now.with_timezone(&tz).naive_local() - chrono::Duration::hours(SUMMARY_GRACE_HOURS))
        .date();
    day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()) + 7)
}

/// Summarises, in one transaction, each client's due week (`due_week` in their zone) not
/// yet summarised, for clients coached by a relationship that began before that week
/// ended and had not ended before it began, who trained or had something planned or
/// booked in it. Returns how many.
pub async fn summarize(pool: &PgPool) -> anyhow::Result<usize> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    // The zone of every coached client active in the last 15 days (a due week began at
    // most 15 UTC days ago, and one without activity is not summarised): their newest
    // program assignment's (ids are UUIDv7).
    let zones = sqlx::query!(
        r#"select c.client_id as "client_id!",
                  (select f.time_zone from plan_facts f where f.client_id = c.client_id
                   order by f.assignment_id desc limit 1) as time_zone
           from (select distinct client_id from coaching_facts) c
           where exists (select 1 from daily_training t
                         where t.client_id = c.client_id
                           and t.day >= (now() at time zone 'UTC')::date - 15)
              or exists (select 1 from daily_adherence a
                         where a.client_id = c.client_id
                           and a.day >= (now() at time zone 'UTC')::date - 15)"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let (clients, weeks): (Vec<Uuid>, Vec<NaiveDate>) = zones
        .into_iter()
        .map(|z| {
            let week = due_week(now, z.time_zone.as_deref().unwrap_or("UTC"));
            (z.client_id, week)
        })
        .unzip();
    let rows = sqlx::query!(
        r#"with due as (select * from unnest($1::uuid[], $2::date[]) as d(client_id, week)),
           todo as (
               select d.client_id, d.week from due d
               where exists (select 1 from coaching_facts c
                             where c.client_id = d.client_id and c.started_at < d.week + 7
                               and (c.ended_at is null or c.ended_at >= d.week))
                 and not exists (select 1 from weekly_summaries s
                                 where s.client_id = d.client_id and s.week_start = d.week)
                 and (exists (select 1 from daily_training t
                              where t.client_id = d.client_id and t.day >= d.week and t.day < d.week + 7)
                      or exists (select 1 from daily_adherence a
                                 where a.client_id = d.client_id and a.day >= d.week and a.day < d.week + 7
                                   and a.planned + a.sessions > 0))
               order by d.client_id limit $3),
           marked as (insert into weekly_summaries (client_id, week_start)
                      select client_id, week from todo
                      on conflict do nothing returning client_id, week_start)
           select m.client_id as "client_id!", m.week_start as "week_start!",
                  t.days as "training_days!", t.sets as "sets!", t.volume as "volume_kg!",
                  (select count(distinct d.exercise) from daily_e1rm d
                   where d.client_id = m.client_id and d.day >= m.week_start and d.day < m.week_start + 7
                     and d.e1rm_kg > (select max(p.e1rm_kg) from daily_e1rm p
                                      where p.client_id = d.client_id and p.exercise = d.exercise
                                        and p.day < d.day)) as "records!",
                  a.planned as "planned!", a.done as "done!"
           from marked m
           cross join lateral (select count(*) as days, coalesce(sum(sets), 0)::int8 as sets,
                                      coalesce(sum(volume_kg), 0)::float8 as volume
                               from daily_training
                               where client_id = m.client_id and day >= m.week_start
                                 and day < m.week_start + 7) t
           cross join lateral (select coalesce(sum(planned + sessions), 0)::int8 as planned,
                                      coalesce(sum(completed + attended), 0)::int8 as done
                               from daily_adherence
                               where client_id = m.client_id and day >= m.week_start
                                 and day < m.week_start + 7) a
           order by m.client_id"#,
        &clients,
        &weeks,
        i64::try_from(BATCH).unwrap_or(500)
    )
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let clients: Vec<Uuid> = rows.iter().map(|r| r.client_id).collect();
    let trainers = trainers_of(&mut tx, &clients).await?;
    let mut by_week: HashMap<NaiveDate, Vec<Uuid>> = HashMap::new();
    for r in &rows {
        by_week.entry(r.week_start).or_default().push(r.client_id);
        let event = CloudEvent::new(
            super::signals::SOURCE,
            WEEKLY_SUMMARY_V1,
            r.client_id.to_string(),
            WeeklySummary {
                client_id: r.client_id,
                week_start: r.week_start,
                training_days: r.training_days,
                sets: r.sets,
                volume_kg: r.volume_kg,
                records: r.records,
                planned: r.planned,
                done: r.done,
                trainers: trainers.get(&r.client_id).cloned().unwrap_or_default(),
            },
        );
        outbox::enqueue(&mut tx, Topic::Alerts, &event).await?;
    }
    let mut weeks: Vec<(NaiveDate, Vec<Uuid>)> = by_week.into_iter().collect();
    weeks.sort();
    for (week, clients) in weeks {
        for (client, p) in plateaus(&mut tx, &clients, week).await? {
            let event = CloudEvent::new(
                super::signals::SOURCE,
                PLATEAU_V1,
                client.to_string(),
                fitsync_events::Plateau {
                    client_id: client,
                    exercise: p.exercise,
                    week_start: week,
                    weeks: p.weeks,
                    slope_kg_per_week: p.slope_kg_per_week,
                    trainers: trainers.get(&client).cloned().unwrap_or_default(),
                },
            );
            outbox::enqueue(&mut tx, Topic::Alerts, &event).await?;
        }
    }
    fitsync_platform::fault::point("summary.before_commit");
    tx.commit().await?;
    Ok(rows.len())
}

/// Weeks fitted for a plateau, ending with the summarised one (the chart's default).
const PLATEAU_WEEKS: i64 = 6;

/// The plateaus of the exercises each client trained in `week`.
async fn plateaus(
    conn: &mut PgConnection,
    clients: &[Uuid],
    week: NaiveDate,
) -> anyhow::Result<Vec<(Uuid, fitsync_analytics::Plateau)>> {
    let end = week + chrono::Duration::days(7);
    let rows = sqlx::query!(
        r#"select d.client_id, d.exercise, date_trunc('week', d.day)::date as "week!",
                  max(d.e1rm_kg) as "best!"
           from daily_e1rm d
           where d.client_id = any($1) and d.day >= $2 and d.day < $4
             and exists (select 1 from daily_e1rm w
                         where w.client_id = d.client_id and w.exercise = d.exercise
                           and w.day >= $3 and w.day < $4)
           group by 1, 2, 3
           order by 1, 2, 3"#,
        clients,
        week - chrono::Duration::weeks(PLATEAU_WEEKS - 1),
        week,
        end
    )
    .fetch_all(conn)
    .await?;
    let mut by_client: HashMap<Uuid, Vec<fitsync_analytics::WeekBest>> = HashMap::new();
    for r in rows {
        by_client
            .entry(r.client_id)
            .or_default()
            .push(fitsync_analytics::WeekBest {
                exercise: r.exercise,
                week_start: super::sink::days(r.week),
                e1rm_kg: r.best,
            });
    }
    let fitted = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for (client, rows) in by_client {
            for p in fitsync_analytics::plateaus(&rows)? {
                if p.plateau {
                    out.push((client, p));
                }
            }
        }
        out.sort_by(|a, b| (a.0, &a.1.exercise).cmp(&(b.0, &b.1.exercise)));
        polars::error::PolarsResult::Ok(out)
    })
    .await??;
    Ok(fitted)
}

/// Whether `day` has ended in `zone` by `now`, at most
/// `MISSED_NEWS_DAYS` ago. An unknown zone reads as UTC.
fn due(day: NaiveDate, zone: &str, now: DateTime<Utc>) -> bool {
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    let today = now.with_timezone(&tz).date_naive();
    day < today && (today - day).num_days() <= MISSED_NEWS_DAYS
}

/// Signals what is due in one transaction; returns how many it signalled.
pub async fn round(pool: &PgPool) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    // Every local "today" lies within a day of UTC's: the days that may be due.
    let open = sqlx::query_as!(
        Open,
        r#"select p.planned_workout_id, p.assignment_id, p.client_id, p.day, f.time_zone
           from planned_facts p join plan_facts f on f.assignment_id = p.assignment_id
           where p.day between (now() at time zone 'UTC')::date - ($1::int + 1) and (now() at time zone 'UTC')::date
             and not exists (select 1 from missed_workouts m
                             where m.planned_workout_id = p.planned_workout_id)
             and not exists (select 1 from workout_facts w
                             where w.planned_workout_id = p.planned_workout_id and w.status = 'finished')
           order by p.day, p.planned_workout_id"#,
        i32::try_from(MISSED_NEWS_DAYS).unwrap_or(2)
    )
    .fetch_all(&mut *tx)
    .await?;
    let now = Utc::now();
    let due: Vec<Open> = open
        .into_iter()
        .filter(|o| due(o.day, &o.time_zone, now))
        .take(BATCH)
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = due.iter().map(|o| o.planned_workout_id).collect();
    let clients: Vec<Uuid> = due.iter().map(|o| o.client_id).collect();
    let days: Vec<NaiveDate> = due.iter().map(|o| o.day).collect();
    // Ours are those no other pass marked first (it waits for theirs to commit).
    let marked: std::collections::HashSet<Uuid> = sqlx::query_scalar!(
        "insert into missed_workouts (planned_workout_id, client_id, day)
         select * from unnest($1::uuid[], $2::uuid[], $3::date[])
         on conflict (planned_workout_id) do nothing
         returning planned_workout_id",
        &ids,
        &clients,
        &days
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let due: Vec<Open> = due
        .into_iter()
        .filter(|o| marked.contains(&o.planned_workout_id))
        .collect();
    let adherence = adherence(&mut tx, &due).await?;
    let mut whose: Vec<Uuid> = due.iter().map(|o| o.client_id).collect();
    whose.sort_unstable();
    whose.dedup();
    let trainers = trainers_of(&mut tx, &whose).await?;
    for o in &due {
        let (adherence_7, previous_adherence_7) = adherence
            .get(&(o.client_id, o.day))
            .copied()
            .unwrap_or_default();
        let event = CloudEvent::new(
            super::signals::SOURCE,
            WORKOUT_MISSED_V1,
            o.client_id.to_string(),
            WorkoutMissed {
                client_id: o.client_id,
                planned_workout_id: o.planned_workout_id,
                assignment_id: o.assignment_id,
                day: o.day,
                time_zone: o.time_zone.clone(),
                adherence_7,
                previous_adherence_7,
                trainers: trainers.get(&o.client_id).cloned().unwrap_or_default(),
            },
        );
        outbox::enqueue(&mut tx, Topic::Alerts, &event).await?;
    }
    fitsync_platform::fault::point("close.before_commit");
    tx.commit().await?;
    Ok(due.len())
}

/// Each (client, day)'s adherence over the seven days ending on it and over the seven
/// before: done (finished planned workouts, attended sessions) of planned (workouts and
/// resolved sessions), as the adherence windows count it.
async fn adherence(
    conn: &mut PgConnection,
    due: &[Open],
) -> Result<HashMap<(Uuid, NaiveDate), (Option<f64>, Option<f64>)>, sqlx::Error> {
    let clients: Vec<Uuid> = due.iter().map(|o| o.client_id).collect();
    let days: Vec<NaiveDate> = due.iter().map(|o| o.day).collect();
    let rows = sqlx::query!(
        r#"select k.c as "client_id!", k.d as "day!",
                  (select sum(completed + attended)::float8 / nullif(sum(planned + sessions), 0)
                   from daily_adherence a where a.client_id = k.c and a.day between k.d - 6 and k.d) as now,
                  (select sum(completed + attended)::float8 / nullif(sum(planned + sessions), 0)
                   from daily_adherence a where a.client_id = k.c and a.day between k.d - 7 and k.d - 1) as before
           from (select distinct c, d from unnest($1::uuid[], $2::date[]) as t(c, d)) as k"#,
        &clients,
        &days
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.client_id, r.day), (r.now, r.before)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_due_once_it_ended_where_it_was_planned_and_for_two_days() {
        // 23:30 UTC on 1 December: already 2 December in Auckland, still 1 December in
        // Lisbon and New York.
        let now: DateTime<Utc> = "2026-12-01T23:30:00Z".parse().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(due(d("2026-12-01"), "Pacific/Auckland", now));
        assert!(!due(d("2026-12-01"), "Europe/Lisbon", now));
        assert!(!due(d("2026-12-01"), "America/New_York", now));
        assert!(due(d("2026-11-30"), "Europe/Lisbon", now));
        assert!(due(d("2026-11-29"), "Europe/Lisbon", now));
        // Three days over: history, not news.
        assert!(!due(d("2026-11-28"), "Europe/Lisbon", now));
        assert!(!due(d("2026-11-29"), "Pacific/Auckland", now));
        // An unknown zone is UTC's day.
        assert!(!due(d("2026-12-01"), "Mars/Olympus", now));
        assert!(due(d("2026-11-30"), "Mars/Olympus", now));
    }

    #[test]
    fn the_week_summarised_is_the_last_one_ended_six_hours_into_the_clients_monday() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // Monday 30 November 2026, in UTC: 06:00 local is 06:00 UTC.
        assert_eq!(due_week(at("2026-11-30T05:59:59Z"), "UTC"), d("2026-11-16"));
        assert_eq!(due_week(at("2026-11-30T06:00:00Z"), "UTC"), d("2026-11-23"));
        assert_eq!(due_week(at("2026-12-06T23:59:59Z"), "UTC"), d("2026-11-23"));
        assert_eq!(due_week(at("2026-12-07T06:00:00Z"), "UTC"), d("2026-11-30"));
        // Auckland is UTC+13 in summer: its Monday 06:00 is Sunday 17:00 UTC.
        assert_eq!(
            due_week(at("2026-11-29T16:59:59Z"), "Pacific/Auckland"),
            d("2026-11-16")
        );
        assert_eq!(
            due_week(at("2026-11-29T17:00:00Z"), "Pacific/Auckland"),
            d("2026-11-23")
        );
        // New York is UTC−5 in winter: its Monday 06:00 is 11:00 UTC.
        assert_eq!(
            due_week(at("2026-11-30T10:59:59Z"), "America/New_York"),
            d("2026-11-16")
        );
        assert_eq!(
            due_week(at("2026-11-30T11:00:00Z"), "America/New_York"),
            d("2026-11-23")
        );
        // An unknown zone is UTC's.
        assert_eq!(
            due_week(at("2026-11-30T06:00:00Z"), "Mars/Olympus"),
            d("2026-11-23")
        );
    }
}
