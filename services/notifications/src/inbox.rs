//! The in-app inbox: events addressed to a user (today: a trainer's comment on a
//! client's workout, `fitsync.workout.comment_added.v1`) → one inbox row each, exactly
//! once — the rows and this group's Kafka offsets commit in one transaction, and the
//! comment id is the row's key, so a re-published event or a replay adds nothing.

use fitsync_events::{CloudEvent, CommentAdded, Topic, COMMENT_ADDED_V1};
use fitsync_platform::{
    config::{JobSettings, KafkaSettings},
    stream::{
        offsets::{self, PartitionKey},
        runner,
        source::{self, KafkaSource},
        BatchJob, ConsumerSpec, JobStats,
    },
};
use rdkafka::{message::OwnedMessage, Message};
use sqlx::PgPool;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

pub const JOB: &str = "inbox";

pub struct InboxWriter {
    pool: PgPool,
    consumer: ConsumerSpec,
}

impl InboxWriter {
    pub fn new(pool: PgPool, kafka: KafkaSettings, settings: JobSettings) -> anyhow::Result<Self> {
        Ok(Self {
            consumer: ConsumerSpec::new(
                &kafka,
                &settings,
                &format!("notifications-{JOB}"),
                &[Topic::Training],
            )?,
            pool,
        })
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let result = runner::run(&self, &shutdown).await;
        runner::drop_blocking(JOB, self).await;
        result
    }
}

fn decode(m: &OwnedMessage) -> Result<Option<CommentAdded>, String> {
    let event =
        CloudEvent::from_slice(m.payload().ok_or("empty payload")?).map_err(|e| e.to_string())?;
    if event.event_type != COMMENT_ADDED_V1 {
        return Ok(None);
    }
    let c: CommentAdded = event.payload(COMMENT_ADDED_V1).map_err(|e| e.to_string())?;
    if event.subject != c.client_id.to_string() {
        return Err("subject is not the comment's client".into());
    }
    if c.body.trim().is_empty() || c.body.chars().count() > 2000 {
        return Err(format!(
            "invalid {COMMENT_ADDED_V1}: body of 1 to 2000 characters"
        ));
    }
    Ok(Some(c))
}

impl BatchJob for InboxWriter {
    const NAME: &'static str = JOB;

    fn spec(&self) -> &ConsumerSpec {
        &self.consumer
    }

    async fn subscribe(&self) -> anyhow::Result<KafkaSource> {
        self.consumer
            .subscribe(Some(offsets::load(&self.pool, &self.consumer.group).await?))
    }

    #[tracing::instrument(skip_all, fields(job = JOB, messages = batch.len()), err)]
    async fn process(&self, batch: &[OwnedMessage]) -> anyhow::Result<JobStats> {
        let mut stats = JobStats::default();
        let mut tx = self.pool.begin().await?;
        let applied = offsets::lock(&mut tx, &self.consumer.group, &self.consumer.topics).await?;
        let mut rejected = Vec::new();
        for m in batch {
            let from = applied
                .get(&(m.topic().to_owned(), m.partition()))
                .copied()
                .unwrap_or(0);
            if m.offset() < from {
                stats.duplicates += 1;
                continue;
            }
            match decode(m) {
                Ok(Some(c)) => {
                    let added = sqlx::query!(
                        "insert into inbox (notification_id, user_id, kind, title, body, subject_id, sender_id,
                                            created_at)
                         values ($1, $2, 'workout_comment', 'New feedback on your workout', $3, $4, $5, $6)
                         on conflict (notification_id) do nothing",
                        c.comment_id,
                        c.client_id,
                        c.body,
                        c.workout_id,
                        c.author_id,
                        c.created_at
                    )
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if added == 1 {
                        stats.applied += 1;
                    } else {
                        stats.duplicates += 1;
                    }
                }
                Ok(None) => stats.skipped += 1,
                Err(reason) => rejected.push((m, reason)),
            }
        }
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
            stats.dead_lettered = rejected.len() as u64;
        }
        let next: HashMap<PartitionKey, i64> = source::next_offsets(batch);
        offsets::save(&mut tx, &self.consumer.group, &next).await?;
        tx.commit().await?;
        Ok(stats)
    }
}
