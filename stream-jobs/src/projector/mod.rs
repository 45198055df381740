//! The access projector: the users service's relationship and gym-membership events →
//! `access_grants` in one service's database, effectively once (offsets stored with the
//! rows, as the analytics job does). Each service that authorizes reads against its own
//! projection; one projector runs per such database.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fitsync_events::{
    CloudEvent, GymMembershipChanged, RelationshipChanged, Topic, GYM_MEMBER_JOINED_V1,
    GYM_MEMBER_LEFT_V1, RELATIONSHIP_ENDED_V1, RELATIONSHIP_STARTED_V1,
};
use fitsync_platform::config::{JobSettings, KafkaSettings};
use rdkafka::{message::OwnedMessage, Message};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use fitsync_platform::stream::{
    offsets::{self, PartitionKey},
    runner::{self, BatchJob},
    source::{self, KafkaSource},
    stats::JobStats,
    ConsumerSpec,
};

pub const JOB: &str = "projector";

pub struct AccessProjector {
    pool: PgPool,
    consumer: ConsumerSpec,
}

/// One row of `access_grants`, as an event sets it.
struct Grant {
    kind: &'static str,
    grantee: Uuid,
    subject: Uuid,
    active: bool,
    at: DateTime<Utc>,
}

fn decode(m: &OwnedMessage) -> Result<Option<Grant>, String> {
    let event =
        CloudEvent::from_slice(m.payload().ok_or("empty payload")?).map_err(|e| e.to_string())?;
    let kind = event.event_type.as_str();
    let grant = match kind {
        RELATIONSHIP_STARTED_V1 | RELATIONSHIP_ENDED_V1 => {
            let r: RelationshipChanged = event
                .payload(if kind == RELATIONSHIP_STARTED_V1 {
                    RELATIONSHIP_STARTED_V1
                } else {
                    RELATIONSHIP_ENDED_V1
                })
                .map_err(|e| e.to_string())?;
            Grant {
                kind: "trainer",
                grantee: r.trainer_id,
                subject: r.client_id,
                active: kind == RELATIONSHIP_STARTED_V1,
                at: r.at,
            }
        }
        GYM_MEMBER_JOINED_V1 | GYM_MEMBER_LEFT_V1 => {
            let g: GymMembershipChanged = event
                .payload(if kind == GYM_MEMBER_JOINED_V1 {
                    GYM_MEMBER_JOINED_V1
                } else {
                    GYM_MEMBER_LEFT_V1
                })
                .map_err(|e| e.to_string())?;
            Grant {
                kind: "gym",
                grantee: g.gym_id,
                subject: g.user_id,
                active: kind == GYM_MEMBER_JOINED_V1,
                at: g.at,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(grant))
}

impl AccessProjector {
    /// `database` names the projection's home in the consumer group, e.g. `training`.
    pub fn new(
        database: &str,
        pool: PgPool,
        kafka: KafkaSettings,
        settings: JobSettings,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            consumer: ConsumerSpec::new(
                &kafka,
                &settings,
                &format!("{JOB}-{database}"),
                &[Topic::Users],
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

impl BatchJob for AccessProjector {
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
        let mut grants = Vec::new();
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
                Ok(Some(grant)) => grants.push(grant),
                Ok(None) => stats.skipped += 1,
                Err(reason) => rejected.push((m, reason)),
            }
        }
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
            stats.dead_lettered = rejected.len() as u64;
        }
        // In event order, so a later event of the same pair wins within the batch too.
        for g in &grants {
            sqlx::query(
                "insert into access_grants (kind, grantee, subject, active, changed_at)
                 values ($1, $2, $3, $4, $5)
                 on conflict (kind, grantee, subject) do update
                 set active = excluded.active, changed_at = excluded.changed_at
                 where access_grants.changed_at <= excluded.changed_at",
            )
            .bind(g.kind)
            .bind(g.grantee)
            .bind(g.subject)
            .bind(g.active)
            .bind(g.at)
            .execute(&mut *tx)
            .await?;
        }
        stats.applied = grants.len() as u64;
        let next: HashMap<PartitionKey, i64> = source::next_offsets(batch);
        offsets::save(&mut tx, &self.consumer.group, &next).await?;
        tx.commit().await?;
        Ok(stats)
    }
}
