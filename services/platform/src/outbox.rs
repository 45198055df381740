//! The writing half of the transactional outbox (the relay in `ingest/` is the other).

use fitsync_events::{CloudEvent, Topic};
use serde::Serialize;
use sqlx::PgConnection;

/// The channel the relay LISTENs on; a notification is only a wake-up call.
pub const CHANNEL: &str = "fitsync_outbox";

/// Appends `event` to the outbox inside the caller's transaction. The NOTIFY is delivered
/// only if that transaction commits, so the relay never wakes for a rolled-back write.
#[tracing::instrument(skip_all, fields(event_type = %event.event_type), err)]
pub async fn enqueue<T: Serialize>(
    conn: &mut PgConnection,
    topic: Topic,
    event: &CloudEvent<T>,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_value(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    // The insert and the wake-up in one statement (one round trip): a data-modifying
    // WITH runs to completion whether or not the query reads it.
    sqlx::query!(
        "with added as (insert into outbox (topic, message_key, payload) values ($1, $2, $3))
         select pg_notify($4, '')",
        topic.suffix(),
        &event.subject,
        payload,
        CHANNEL
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends `events`, in order, to the outbox inside the caller's transaction: one
/// statement inserts all of them and wakes the relay.
#[tracing::instrument(skip_all, fields(events = events.len()), err)]
pub async fn enqueue_all<T: Serialize>(
    conn: &mut PgConnection,
    topic: Topic,
    events: &[CloudEvent<T>],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = events.iter().map(|e| e.subject.as_str()).collect();
    // As text: the column is `json`, which keeps what it is given (through `jsonb` it
    // would be parsed and rewritten).
    let payloads = events
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    // Ids are drawn in the order the rows are inserted: the events' order.
    sqlx::query!(
        "with added as (
           insert into outbox (topic, message_key, payload)
           select $1, k, p::json from unnest($2::text[], $3::text[]) with ordinality as e(k, p, n)
           order by n)
         select pg_notify($4, '')",
        topic.suffix(),
        &keys as &[&str],
        &payloads,
        CHANNEL
    )
    .execute(conn)
    .await?;
    Ok(())
}
