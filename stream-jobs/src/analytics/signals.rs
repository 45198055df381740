//! Signals for the alerts job, written to progressdb's outbox in the batch's transaction
//! (so they are published exactly when the results that caused them commit): a best
//! e1RM that went up (`personal_record`), a day whose acute:chronic workload ratio
//! is above `WORKLOAD_SPIKE_FLOOR` once sets seen for the first time added to it
//! (`workload_spike`), and a new weigh-in that moved the weight trend by more than
//! `WEIGHT_CHANGE_FLOOR` percent over a week (`weight_change`). Corrections and deletions
//! signal nothing: a recompute is not news. Each carries the client's trainers as the
//! coaching facts stand. (Missed planned workouts are signalled by the day-close pass,
//! `close`.)

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use fitsync_analytics::{DailyLoad, TrendPoint, WeeklyChange, CHRONIC_DAYS};
use fitsync_events::{
    CloudEvent, PersonalRecord, Topic, WeightChange, WorkloadSpike, PERSONAL_RECORD_V1,
    WEIGHT_CHANGE_FLOOR, WEIGHT_CHANGE_V1, WORKLOAD_SPIKE_FLOOR, WORKLOAD_SPIKE_V1,
};
use fitsync_platform::outbox;
use sqlx::PgConnection;
use uuid::Uuid;

use super::body::NewWeight;
use super::sink::{date, days, Improved};

pub(super) const SOURCE: &str = "/fitsync/analytics";

/// Each client's current trainers.
pub(super) async fn trainers_of(
    conn: &mut PgConnection,
    clients: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, sqlx::Error> {
    let rows = sqlx::query!(
        "select client_id, trainer_id from coaching_facts
         where client_id = any($1) and started_at is not null and ended_at is null
         order by client_id, trainer_id",
        clients
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for r in rows {
        out.entry(r.client_id).or_default().push(r.trainer_id);
    }
    Ok(out)
}

/// The weekly changes beyond `WEIGHT_CHANGE_FLOOR` percent of the recomputed `trends`
/// whose last day has a weigh-in seen for the first time (an old weight entered late
/// moves the trend, but is not news), with that weigh-in's time.
pub fn weight_changes(
    trends: &HashMap<Uuid, Vec<TrendPoint>>,
    new_weights: &[NewWeight],
) -> Vec<(Uuid, WeeklyChange, DateTime<Utc>)> {
    let mut out = Vec::new();
    for (client, trend) in trends {
        let Some(change) = fitsync_analytics::weekly_change(trend) else {
            continue;
        };
        let newest = new_weights
            .iter()
            .filter(|(c, day, _)| c == client && days(*day) == change.day)
            .map(|(_, _, at)| *at)
            .max();
        if let Some(at) = newest.filter(|_| change.percent.abs() > WEIGHT_CHANGE_FLOOR) {
            out.push((*client, change, at));
        }
    }
    out.sort_by_key(|(client, _, _)| *client);
    out
}

/// Each client's current weight goal (the newest set).
async fn weight_goals(
    conn: &mut PgConnection,
    clients: &[Uuid],
) -> Result<HashMap<Uuid, f64>, sqlx::Error> {
    Ok(sqlx::query!(
        "select distinct on (client_id) client_id, target_kg from goals
         where client_id = any($1) and kind = 'weight'
         order by client_id, created_at desc",
        clients
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.client_id, r.target_kg))
    .collect())
}

/// Writes the signals of one batch: `improved` best estimates, the workload of the
/// `loaded` (client, local day) pairs first-seen sets added load to, and the weight
/// `changes` first-seen weigh-ins made.
pub async fn emit(
    conn: &mut PgConnection,
    improved: &[Improved],
    loaded: &[(Uuid, i32)],
    changes: &[(Uuid, WeeklyChange, DateTime<Utc>)],
) -> anyhow::Result<usize> {
    if improved.is_empty() && loaded.is_empty() && changes.is_empty() {
        return Ok(0);
    }
    let spikes = spikes(conn, loaded).await?;
    let mut clients: Vec<Uuid> = improved.iter().map(|i| i.client_id).collect();
    clients.extend(spikes.iter().map(|w| w.0));
    clients.extend(changes.iter().map(|c| c.0));
    clients.sort_unstable();
    clients.dedup();
    let trainers = trainers_of(conn, &clients).await?;
    let of = |c: &Uuid| trainers.get(c).cloned().unwrap_or_default();
    let records: Vec<_> = improved
        .iter()
        .map(|i| {
            CloudEvent::new(
                SOURCE,
                PERSONAL_RECORD_V1,
                i.client_id.to_string(),
                PersonalRecord {
                    client_id: i.client_id,
                    exercise: i.exercise.clone(),
                    e1rm_kg: i.e1rm_kg,
                    previous_kg: i.previous_kg,
                    set_id: i.set_id,
                    achieved_at: i.achieved_at,
                    trainers: of(&i.client_id),
                },
            )
        })
        .collect();
    outbox::enqueue_all(conn, Topic::Alerts, &records).await?;
    let workloads: Vec<_> = spikes
        .iter()
        .map(|(client, w)| {
            CloudEvent::new(
                SOURCE,
                WORKLOAD_SPIKE_V1,
                client.to_string(),
                WorkloadSpike {
                    client_id: *client,
                    day: date(w.day),
                    ratio: w.ratio,
                    acute_kg: w.acute_kg,
                    chronic_kg: w.chronic_kg,
                    trainers: of(client),
                },
            )
        })
        .collect();
    outbox::enqueue_all(conn, Topic::Alerts, &workloads).await?;
    let whose: Vec<Uuid> = changes.iter().map(|c| c.0).collect();
    let goals = if whose.is_empty() {
        HashMap::new()
    } else {
        weight_goals(conn, &whose).await?
    };
    let weights: Vec<_> = changes
        .iter()
        .map(|(client, change, measured_at)| {
            let goal = goals.get(client).copied();
            CloudEvent::new(
                SOURCE,
                WEIGHT_CHANGE_V1,
                client.to_string(),
                WeightChange {
                    client_id: *client,
                    day: date(change.day),
                    measured_at: *measured_at,
                    trend_kg: change.trend_kg,
                    weekly_change_kg: change.change_kg,
                    weekly_change_percent: change.percent,
                    goal_kg: goal,
                    toward_goal: goal.map(|g| (g - change.from_kg) * change.change_kg > 0.0),
                    trainers: of(client),
                },
            )
        })
        .collect();
    outbox::enqueue_all(conn, Topic::Alerts, &weights).await?;
    Ok(improved.len() + spikes.len() + changes.len())
}

/// The loaded days whose ratio is above the floor, with load before the acute window.
async fn spikes(
    conn: &mut PgConnection,
    loaded: &[(Uuid, i32)],
) -> anyhow::Result<Vec<(Uuid, fitsync_analytics::Workload)>> {
    // Each client's span of touched days, and the loads that cover it.
    let mut spans: BTreeMap<Uuid, (i32, i32)> = BTreeMap::new();
    for (client, day) in loaded {
        let span = spans.entry(*client).or_insert((*day, *day));
        span.0 = span.0.min(*day);
        span.1 = span.1.max(*day);
    }
    if spans.is_empty() {
        return Ok(Vec::new());
    }
    let clients: Vec<Uuid> = spans.keys().copied().collect();
    let from: Vec<chrono::NaiveDate> = spans
        .values()
        .map(|(f, _)| date(f - (CHRONIC_DAYS - 1)))
        .collect();
    let to: Vec<chrono::NaiveDate> = spans.values().map(|(_, t)| date(*t)).collect();
    let loads: Vec<DailyLoad> = sqlx::query!(
        r#"select t.client_id, t.day, t.volume_kg::float8 as "load!"
           from daily_training t
           join unnest($1::uuid[], $2::date[], $3::date[]) as k(c, f, l)
             on t.client_id = k.c and t.day between k.f and k.l"#,
        &clients,
        &from,
        &to
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| DailyLoad {
        client_id: r.client_id.to_string(),
        day: days(r.day),
        load_kg: r.load,
    })
    .collect();
    let calendar: Vec<(String, i32, i32)> = spans
        .iter()
        .map(|(c, (f, t))| (c.to_string(), *f, *t))
        .collect();
    let workloads =
        tokio::task::spawn_blocking(move || fitsync_analytics::workload(&loads, &calendar))
            .await??;
    let touched: std::collections::HashSet<(Uuid, i32)> = loaded.iter().copied().collect();
    Ok(workloads
        .into_iter()
        .filter_map(|w| {
            let client = Uuid::parse_str(&w.client_id).ok()?;
            (touched.contains(&(client, w.day)) && w.has_history && w.ratio > WORKLOAD_SPIKE_FLOOR)
                .then_some((client, w))
        })
        .collect())
}
