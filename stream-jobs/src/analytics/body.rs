//! Sink of body measurements: the facts (newest revision of each measurement, deleted
//! ones as tombstones), each touched (client, metric, day)'s mean, and the weight trend
//! of each client whose weight changed, all recomputed from the facts.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use fitsync_analytics::{DailyMetric, MeasurementRow, TrendPoint};
use sqlx::PgConnection;
use uuid::Uuid;

use super::decode::MeasurementChange;
use super::sink::{date, days, parse_uuid};

/// (client, metric, local day) a change touched.
pub type MetricDay = (Uuid, String, NaiveDate);

struct Held {
    metric: String,
    local_date: NaiveDate,
    revision: i32,
    deleted: bool,
}

/// A weigh-in seen for the first time: its client, local day and time.
pub type NewWeight = (Uuid, NaiveDate, DateTime<Utc>);

/// Applies each measurement's newest change if newer than what is held; returns the days
/// it touched, how many changes were stale, and the weigh-ins seen for the first time.
pub async fn apply(
    conn: &mut PgConnection,
    changes: &[(Uuid, MeasurementChange)],
) -> Result<(HashSet<MetricDay>, usize, Vec<NewWeight>), sqlx::Error> {
    let ids: Vec<Uuid> = changes.iter().map(|(_, c)| c.measurement_id).collect();
    let held: HashMap<Uuid, Held> = sqlx::query!(
        "select measurement_id, metric, local_date, revision, deleted from measurement_facts
         where measurement_id = any($1) for update",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.measurement_id,
            Held {
                metric: r.metric,
                local_date: r.local_date,
                revision: r.revision,
                deleted: r.deleted,
            },
        )
    })
    .collect();
    let mut touched = HashSet::new();
    let mut stale = 0;
    let mut new_weights = Vec::new();
    let n = changes.len();
    let (mut m_ids, mut clients, mut metrics, mut values) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut dates, mut times, mut revisions, mut deleted, mut events) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (event_id, c) in changes {
        let old = held.get(&c.measurement_id);
        if old.is_some_and(|o| c.revision <= o.revision) {
            stale += 1;
            continue;
        }
        if let Some(o) = old.filter(|o| !o.deleted) {
            touched.insert((c.client_id, o.metric.clone(), o.local_date));
        }
        // A tombstone keeps what was known of the measurement.
        let (metric, value, local_date, at) = match (&c.recorded, old) {
            (Some(m), _) => {
                touched.insert((c.client_id, m.metric.clone(), m.local_date));
                if old.is_none() && m.metric == "weight" {
                    new_weights.push((c.client_id, m.local_date, m.measured_at));
                }
                (m.metric.clone(), m.value, m.local_date, m.measured_at)
            }
            (None, Some(o)) => (
                o.metric.clone(),
                0.0,
                o.local_date,
                DateTime::<Utc>::UNIX_EPOCH,
            ),
            (None, None) => (String::new(), 0.0, date(0), DateTime::<Utc>::UNIX_EPOCH),
        };
        m_ids.push(c.measurement_id);
        clients.push(c.client_id);
        metrics.push(metric);
        values.push(value);
        dates.push(local_date);
        times.push(at);
        revisions.push(c.revision);
        deleted.push(c.recorded.is_none());
        events.push(*event_id);
    }
    if !m_ids.is_empty() {
        sqlx::query!(
            "insert into measurement_facts (measurement_id, client_id, metric, value, local_date, measured_at,
                                            revision, deleted, event_id)
             select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::float8[], $5::date[],
                                  $6::timestamptz[], $7::int[], $8::bool[], $9::uuid[])
             on conflict (measurement_id) do update
             set metric = excluded.metric, value = excluded.value, local_date = excluded.local_date,
                 measured_at = excluded.measured_at, revision = excluded.revision,
                 deleted = excluded.deleted, event_id = excluded.event_id
             where excluded.revision > measurement_facts.revision",
            &m_ids,
            &clients,
            &metrics,
            &values,
            &dates,
            &times,
            &revisions,
            &deleted,
            &events
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok((touched, stale, new_weights))
}

/// The measurements that count on some (client, metric, day)s.
pub async fn facts_of(
    conn: &mut PgConnection,
    keys: &HashSet<MetricDay>,
) -> Result<Vec<MeasurementRow>, sqlx::Error> {
    let clients: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    let metrics: Vec<String> = keys.iter().map(|k| k.1.clone()).collect();
    let dates: Vec<NaiveDate> = keys.iter().map(|k| k.2).collect();
    let rows = sqlx::query!(
        "select f.client_id, f.metric, f.local_date, f.value from measurement_facts f
         join unnest($1::uuid[], $2::text[], $3::date[]) as k(c, m, d)
           on f.client_id = k.c and f.metric = k.m and f.local_date = k.d
         where not f.deleted order by f.measurement_id",
        &clients,
        &metrics,
        &dates
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| MeasurementRow {
            client_id: r.client_id.to_string(),
            metric: r.metric,
            day: days(r.local_date),
            value: r.value,
        })
        .collect())
}

/// Replaces the daily values of `keys` with `rows`.
pub async fn replace_days(
    conn: &mut PgConnection,
    keys: &HashSet<MetricDay>,
    rows: &[DailyMetric],
) -> Result<(), sqlx::Error> {
    let clients: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    let metrics: Vec<String> = keys.iter().map(|k| k.1.clone()).collect();
    let dates: Vec<NaiveDate> = keys.iter().map(|k| k.2).collect();
    sqlx::query!(
        "delete from daily_metrics m using unnest($1::uuid[], $2::text[], $3::date[]) as k(c, x, d)
         where m.client_id = k.c and m.metric = k.x and m.day = k.d",
        &clients,
        &metrics,
        &dates
    )
    .execute(&mut *conn)
    .await?;
    let clients: Vec<Uuid> = rows.iter().map(|r| parse_uuid(&r.client_id)).collect();
    let metrics: Vec<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
    let dates: Vec<NaiveDate> = rows.iter().map(|r| date(r.day)).collect();
    let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
    let counts: Vec<i32> = rows
        .iter()
        .map(|r| i32::try_from(r.measurements).unwrap_or(i32::MAX))
        .collect();
    sqlx::query!(
        "insert into daily_metrics (client_id, metric, day, value, measurements)
         select * from unnest($1::uuid[], $2::text[], $3::date[], $4::float8[], $5::int[])",
        &clients,
        &metrics as &[&str],
        &dates,
        &values,
        &counts
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The daily weights of some clients, for their trend.
pub async fn daily_weights(
    conn: &mut PgConnection,
    clients: &[Uuid],
) -> Result<HashMap<Uuid, Vec<(i32, f64)>>, sqlx::Error> {
    let rows = sqlx::query!(
        "select client_id, day, value from daily_metrics
         where metric = 'weight' and client_id = any($1) order by client_id, day",
        clients
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<Uuid, Vec<(i32, f64)>> =
        clients.iter().map(|c| (*c, Vec::new())).collect();
    for r in rows {
        out.entry(r.client_id)
            .or_default()
            .push((days(r.day), r.value));
    }
    Ok(out)
}

/// Replaces the whole trend of each client given.
pub async fn replace_trends(
    conn: &mut PgConnection,
    trends: &HashMap<Uuid, Vec<TrendPoint>>,
) -> Result<(), sqlx::Error> {
    let whose: Vec<Uuid> = trends.keys().copied().collect();
    sqlx::query!("delete from weight_trend where client_id = any($1)", &whose)
        .execute(&mut *conn)
        .await?;
    let mut clients = Vec::new();
    let mut dates = Vec::new();
    let mut weights = Vec::new();
    let mut smoothed = Vec::new();
    for (client, points) in trends {
        for p in points {
            clients.push(*client);
            dates.push(date(p.day));
            weights.push(p.weight_kg);
            smoothed.push(p.trend_kg);
        }
    }
    sqlx::query!(
        "insert into weight_trend (client_id, day, weight_kg, trend_kg)
         select * from unnest($1::uuid[], $2::date[], $3::float8[], $4::float8[])",
        &clients,
        &dates,
        &weights,
        &smoothed
    )
    .execute(conn)
    .await?;
    Ok(())
}
