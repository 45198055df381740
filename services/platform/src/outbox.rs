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
    sqlx::query!(
        "insert into outbox (topic, message_key, payload) values ($1, $2, $3)",
        topic.suffix(),
        &event.subject,
        payload
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("select pg_notify($1, '')", CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
