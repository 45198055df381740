//! The access projector: the users service's relationship and gym-membership events →
//! `access_grants` in one service's database, effectively once (offsets stored with the
//! rows, as the analytics job does). Each service that authorizes reads against its own
//! projection; one projector runs per such database.
//!
//! A change applies only over an older one, by the version the users database gave it
//! (never by a clock: app servers' clocks disagree, and a re-published copy of an old
//! event can arrive after a newer one). The relay's heartbeats record how current the
//! projection is, per partition (`access_freshness`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fitsync_events::{
    CloudEvent, GymMembershipChanged, Heartbeat, RelationshipChanged, Topic, GYM_MEMBER_JOINED_V1,
    GYM_MEMBER_LEFT_V1, HEARTBEAT_V1, RELATIONSHIP_ENDED_V1, RELATIONSHIP_STARTED_V1,
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
    version: i64,
}

enum Decoded {
    Grant(Grant),
    Heartbeat(Heartbeat),
}

fn decode(m: &OwnedMessage) -> Result<Option<Decoded>, String> {
    let event =
        CloudEvent::from_slice(m.payload().ok_or("empty payload")?).map_err(|e| e.to_string())?;
    let kind = event.event_type.as_str();
    let decoded = match kind {
        RELATIONSHIP_STARTED_V1 | RELATIONSHIP_ENDED_V1 => {
            let r: RelationshipChanged = event
                .payload(if kind == RELATIONSHIP_STARTED_V1 {
                    RELATIONSHIP_STARTED_V1
                } else {
                    RELATIONSHIP_ENDED_V1
                })
                .map_err(|e| e.to_string())?;
            Decoded::Grant(Grant {
                kind: "trainer",
                grantee: r.trainer_id,
                subject: r.client_id,
                active: kind == RELATIONSHIP_STARTED_V1,
                at: r.at,
                version: r.version,
            })
        }
        GYM_MEMBER_JOINED_V1 | GYM_MEMBER_LEFT_V1 => {
            let g: GymMembershipChanged = event
                .payload(if kind == GYM_MEMBER_JOINED_V1 {
                    GYM_MEMBER_JOINED_V1
                } else {
                    GYM_MEMBER_LEFT_V1
                })
                .map_err(|e| e.to_string())?;
            Decoded::Grant(Grant {
                kind: "gym",
                grantee: g.gym_id,
                subject: g.user_id,
                active: kind == GYM_MEMBER_JOINED_V1,
                at: g.at,
                version: g.version,
            })
        }
        HEARTBEAT_V1 => Decoded::Heartbeat(event.payload(HEARTBEAT_V1).map_err(|e| e.to_string())?),
        _ => return Ok(None),
    };
    Ok(Some(decoded))
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
        let mut heartbeats: HashMap<PartitionKey, Heartbeat> = HashMap::new();
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
                Ok(Some(Decoded::Grant(grant))) => grants.push(grant),
                // Only the latest per partition matters; they arrive in order.
                Ok(Some(Decoded::Heartbeat(beat))) => {
                    heartbeats.insert((m.topic().to_owned(), m.partition()), beat);
                    stats.skipped += 1;
                }
                Ok(None) => stats.skipped += 1,
                Err(reason) => rejected.push((m, reason)),
            }
        }
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
            stats.dead_lettered = rejected.len() as u64;
        }
        // A change applies only over an older version, whatever order copies arrive in.
        for g in &grants {
            sqlx::query!(
                "insert into access_grants (kind, grantee, subject, active, changed_at, version)
                 values ($1, $2, $3, $4, $5, $6)
                 on conflict (kind, grantee, subject) do update
                 set active = excluded.active, changed_at = excluded.changed_at,
                     version = excluded.version
                 where access_grants.version < excluded.version
                    or (excluded.version = 0 and access_grants.version = 0
                        and access_grants.changed_at <= excluded.changed_at)",
                g.kind,
                g.grantee,
                g.subject,
                g.active,
                g.at,
                g.version
            )
            .execute(&mut *tx)
            .await?;
        }
        stats.applied = grants.len() as u64;
        for ((topic, partition), beat) in &heartbeats {
            sqlx::query!(
                "insert into access_freshness (topic, partition, partitions, as_of)
                 values ($1, $2, $3, $4)
                 on conflict (topic, partition) do update
                 set partitions = excluded.partitions, as_of = greatest(access_freshness.as_of, excluded.as_of)",
                topic,
                partition,
                beat.partitions,
                beat.as_of
            )
            .execute(&mut *tx)
            .await?;
        }
        let next: HashMap<PartitionKey, i64> = source::next_offsets(batch);
        offsets::save(&mut tx, &self.consumer.group, &next).await?;
        tx.commit().await?;
        Ok(stats)
    }
}
