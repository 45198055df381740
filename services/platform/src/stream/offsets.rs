//! Consumed offsets kept in the sink database, written in the same transaction as the
//! results (table `consumer_offsets`: the platform's migrations give it to every service
//! database; this module is the only code that touches it).

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool};

pub type PartitionKey = (String, i32);

/// Every next offset the group has stored.
pub async fn load(pool: &PgPool, group: &str) -> Result<HashMap<PartitionKey, i64>, sqlx::Error> {
    let rows = sqlx::query!(
        "select topic, partition, next_offset from consumer_offsets where consumer_group = $1",
        group
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.topic, r.partition), r.next_offset))
        .collect())
}

/// Locks and reads the offsets of `topics` inside the batch's transaction, so that two
/// consumers (during a rebalance) cannot both apply the same messages.
pub async fn lock(
    conn: &mut PgConnection,
    group: &str,
    topics: &[String],
) -> Result<HashMap<PartitionKey, i64>, sqlx::Error> {
    let rows = sqlx::query!(
        "select topic, partition, next_offset from consumer_offsets
         where consumer_group = $1 and topic = any($2) for update",
        group,
        topics
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.topic, r.partition), r.next_offset))
        .collect())
}

/// Records the next offsets to read, inside the batch's transaction.
pub async fn save(
    conn: &mut PgConnection,
    group: &str,
    next: &HashMap<PartitionKey, i64>,
) -> Result<(), sqlx::Error> {
    let mut topics = Vec::with_capacity(next.len());
    let mut parts = Vec::with_capacity(next.len());
    let mut offsets = Vec::with_capacity(next.len());
    for ((t, p), o) in next {
        topics.push(t.clone());
        parts.push(*p);
        offsets.push(*o);
    }
    sqlx::query!(
        "insert into consumer_offsets (consumer_group, topic, partition, next_offset)
         select $1, * from unnest($2::text[], $3::int[], $4::bigint[])
         on conflict (consumer_group, topic, partition)
         do update set next_offset = greatest(consumer_offsets.next_offset, excluded.next_offset),
                       updated_at = now()",
        group,
        &topics,
        &parts,
        &offsets
    )
    .execute(conn)
    .await?;
    Ok(())
}
