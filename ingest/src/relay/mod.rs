//! The outbox relay: claims outbox rows in id order and publishes them to Kafka with an
//! idempotent producer, keyed by the row's aggregate; deletes a row only once Kafka has
//! acknowledged it. Woken by LISTEN/NOTIFY, with a fallback poll. If Kafka is down the
//! rows wait in the outbox; a crash between publish and delete re-publishes (consumers
//! deduplicate on the event id).
//!
//! Leadership: one relay per database publishes; the others wait as hot standbys. The
//! leader holds a session advisory lock on a connection of its own (never a pooled one,
//! which could go back to the pool still holding it), and does all its outbox reads
//! and deletes on that same connection: if the session dies (terminated, a network
//! cut, a failover), its next statement fails and it steps down before publishing
//! anything more, while the lock is free for a standby. The one window left — a leader
//! that loses its session while a batch is in flight — can only publish rows again that
//! the new leader also publishes, in the same id order on the same partitions, so the
//! first copy of each event still arrives in order and consumers drop the copies.
//!
//! Heartbeats: a relay given a heartbeat topic sends, every `relay.heartbeat_interval_ms`
//! after draining its outbox, a heartbeat to each partition of it carrying the moment
//! (the database's clock) before which every committed change has been published: its
//! consumers know how current they are even when nothing changes.

mod metrics;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use fitsync_events::{CloudEvent, Heartbeat, Topic, Topics, HEARTBEAT_V1};
use fitsync_platform::{
    config::KafkaSettings, config::RelaySettings, fault, kafka, outbox, stream::runner,
};
use futures::future::join_all;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use sqlx::{
    postgres::{PgConnectOptions, PgListener},
    ConnectOptions, Connection, PgConnection, PgPool,
};
use tokio_util::sync::CancellationToken;

pub use metrics::RelayStats;

/// One relay per source database (`source` names it in logs and metrics).
pub struct Relay {
    source: &'static str,
    /// `relay.<source>.before_delete`: between Kafka's acknowledgement and the delete.
    fault_point: String,
    kafka: KafkaSettings,
    pool: PgPool,
    producer: FutureProducer,
    topics: Topics,
    settings: RelaySettings,
    stats: Arc<RelayStats>,
    heartbeat: Option<Topic>,
}

struct Row {
    id: i64,
    topic: String,
    message_key: String,
    payload: String,
}

impl Relay {
    pub fn new(
        source: &'static str,
        pool: PgPool,
        kafka: &KafkaSettings,
        settings: RelaySettings,
    ) -> anyhow::Result<Self> {
        let producer: FutureProducer = kafka::producer_config(kafka)
            .set("linger.ms", settings.linger_ms.to_string())
            .set("compression.type", "lz4")
            .set("batch.num.messages", "10000")
            .set(
                "message.timeout.ms",
                settings.message_timeout_ms.to_string(),
            )
            .create()?;
        Ok(Self {
            source,
            fault_point: format!("relay.{source}.before_delete"),
            kafka: kafka.clone(),
            pool,
            producer,
            topics: Topics::new(kafka.topic_prefix.clone()),
            settings,
            stats: RelayStats::for_source(source),
            heartbeat: None,
        })
    }

    /// Sends heartbeats to every partition of `topic` (see the module documentation).
    pub fn with_heartbeats(mut self, topic: Topic) -> Self {
        self.heartbeat = Some(topic);
        self
    }

    pub fn stats(&self) -> Arc<RelayStats> {
        self.stats.clone()
    }

    /// Runs until `shutdown`; only one relay per database publishes at a time (a session
    /// advisory lock elects it), the others wait as hot standbys.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_cancelled() {
            match self.lead(&shutdown).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(source = self.source, error = %e, "relay interrupted; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        // Flushing waits for the broker: never on a runtime worker.
        let producer = self.producer.clone();
        let flushed =
            tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(5))).await?;
        if let Err(e) = flushed {
            tracing::warn!(source = self.source, error = %e, "unflushed messages at shutdown; their rows stay in the outbox");
        }
        runner::drop_blocking("the relay's producer", self).await;
        Ok(())
    }

    /// A connection of the relay's own, outside the pool, named so that an operator sees
    /// who leads (`pg_stat_activity.application_name`).
    async fn leader_connection(&self) -> Result<PgConnection, sqlx::Error> {
        let options: PgConnectOptions = (*self.pool.connect_options()).clone();
        options
            .application_name(&format!("fitsync-relay-{}", self.source))
            .connect()
            .await
    }

    async fn lead(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut leader = self.leader_connection().await?;
        loop {
            let got: bool = sqlx::query_scalar!(
                r#"select pg_try_advisory_lock(hashtext('fitsync.outbox.relay')) as "got!""#
            )
            .fetch_one(&mut leader)
            .await?;
            if got {
                break;
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        tracing::info!(source = self.source, "relay leading");
        let led = self.publish_while_leading(&mut leader, shutdown).await;
        // Closing the session releases the lock at once, on every way out.
        if let Err(e) = leader.close().await {
            tracing::debug!(error = %e, "closing the leader connection");
        }
        led
    }

    async fn publish_while_leading(
        &self,
        leader: &mut PgConnection,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        // Topics get their configured partitions, not whatever auto-creation would give.
        let all: Vec<(String, bool)> = Topic::ALL
            .iter()
            .map(|t| (self.topics.name(*t), t.compacted()))
            .collect();
        if let Err(e) = kafka::ensure_topics(&self.kafka, &all).await {
            tracing::warn!(source = self.source, error = %e, "could not ensure topics");
        }
        // Heartbeats go to every partition the topic really has.
        let heartbeat_partitions = match self.heartbeat {
            Some(topic) => Some(kafka::partitions_of(&self.kafka, &self.topics.name(topic)).await?),
            None => None,
        };
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(outbox::CHANNEL).await?;
        let mut poll = Duration::from_millis(self.settings.poll_interval_ms);
        let beat_every = Duration::from_millis(self.settings.heartbeat_interval_ms);
        if self.heartbeat.is_some() {
            poll = poll.min(beat_every);
        }
        let mut next_beat = tokio::time::Instant::now();
        let mut next_measure = tokio::time::Instant::now();
        let mut failures = 0u32;
        loop {
            // The database's clock before the drain: every change committed before it is
            // visible to the drain's reads, so published once the drain succeeds.
            let as_of = match self.heartbeat {
                Some(_) if tokio::time::Instant::now() >= next_beat => Some(
                    sqlx::query_scalar!(r#"select statement_timestamp() as "now!""#)
                        .fetch_one(&mut *leader)
                        .await?,
                ),
                _ => None,
            };
            // Drain everything that is waiting, then sleep until woken.
            let drained = loop {
                match self.publish_batch(leader).await? {
                    Published::Some(n) if n as i64 == self.settings.batch_size => continue,
                    Published::Some(_) | Published::Nothing => {
                        failures = 0;
                        break true;
                    }
                    Published::Failed => {
                        failures += 1;
                        let wait = Duration::from_millis(200 * 2u64.pow(failures.min(5)));
                        tokio::select! {
                            () = shutdown.cancelled() => return Ok(()),
                            () = tokio::time::sleep(wait) => {}
                        }
                        break false;
                    }
                }
            };
            self.measure_backlog(leader, &mut next_measure).await?;
            if let (true, Some(as_of), Some(partitions)) = (drained, as_of, heartbeat_partitions) {
                if self.send_heartbeats(as_of, partitions).await {
                    next_beat = tokio::time::Instant::now() + beat_every;
                }
            }
            if !drained {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                n = listener.recv() => { n?; }
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// The backlog gauges, at most once a second.
    async fn measure_backlog(
        &self,
        leader: &mut PgConnection,
        next: &mut tokio::time::Instant,
    ) -> anyhow::Result<()> {
        if tokio::time::Instant::now() < *next {
            return Ok(());
        }
        let backlog = sqlx::query!(
            r#"select count(*) as "rows!",
                      coalesce(extract(epoch from now() - min(created_at))::float8, 0) as "oldest!"
               from outbox"#
        )
        .fetch_one(&mut *leader)
        .await?;
        self.stats.backlog(backlog.rows, backlog.oldest);
        *next = tokio::time::Instant::now() + Duration::from_secs(1);
        Ok(())
    }

    /// One heartbeat to each partition of the heartbeat topic; `true` if Kafka took all.
    async fn send_heartbeats(&self, as_of: DateTime<Utc>, partitions: i32) -> bool {
        let Some(topic) = self.heartbeat else {
            return true;
        };
        let name = self.topics.name(topic);
        let payloads: Vec<String> = (0..partitions)
            .map(|partition| {
                let beat = CloudEvent::new(
                    "/fitsync/relay",
                    HEARTBEAT_V1,
                    format!("heartbeat/{partition}"),
                    Heartbeat {
                        source: self.source.to_owned(),
                        partition,
                        partitions,
                        as_of,
                    },
                );
                serde_json::to_string(&beat).unwrap_or_default()
            })
            .collect();
        let sends = payloads
            .iter()
            .zip(0..partitions)
            .map(|(payload, partition)| {
                let record = FutureRecord::to(&name)
                    .partition(partition)
                    .key("heartbeat")
                    .payload(payload);
                let sent = self.producer.send_result(record);
                async move {
                    match sent {
                        Ok(delivery) => matches!(delivery.await, Ok(Ok(_))),
                        Err(_) => false,
                    }
                }
            });
        let all = join_all(sends).await.into_iter().all(|ok| ok);
        if !all {
            tracing::debug!(source = self.source, "a heartbeat was not acknowledged");
        }
        all
    }

    /// Publishes one batch in id order; deletes the rows Kafka acknowledged. Reads and
    /// deletes on the leader's own connection: a lost session fails here.
    #[tracing::instrument(skip_all, fields(source = self.source), err)]
    async fn publish_batch(&self, leader: &mut PgConnection) -> anyhow::Result<Published> {
        let rows: Vec<Row> = sqlx::query_as!(
            Row,
            r#"select id, topic, message_key, payload::text as "payload!"
               from outbox order by id limit $1"#,
            self.settings.batch_size
        )
        .fetch_all(&mut *leader)
        .await?;
        if rows.is_empty() {
            return Ok(Published::Nothing);
        }
        let names: Vec<String> = rows.iter().map(|r| self.topics.name_of(&r.topic)).collect();
        let deliveries = rows.iter().zip(&names).map(|(row, topic)| {
            let record = FutureRecord::to(topic)
                .key(&row.message_key)
                .payload(&row.payload);
            let sent = self.producer.send_result(record);
            async move {
                match sent {
                    Ok(delivery) => matches!(delivery.await, Ok(Ok(_))),
                    Err((e, _)) => {
                        tracing::debug!(error = %e, "enqueue refused");
                        false
                    }
                }
            }
        });
        let acked = join_all(deliveries).await;
        let done: Vec<i64> = rows
            .iter()
            .zip(&acked)
            .filter(|(_, ok)| **ok)
            .map(|(r, _)| r.id)
            .collect();
        fault::point(&self.fault_point);
        if !done.is_empty() {
            sqlx::query!("delete from outbox where id = any($1)", &done)
                .execute(&mut *leader)
                .await?;
        }
        self.stats.record(done.len(), rows.len() - done.len());
        if done.len() < rows.len() {
            tracing::warn!(
                source = self.source,
                failed = rows.len() - done.len(),
                "Kafka did not acknowledge; rows stay in the outbox"
            );
            return Ok(Published::Failed);
        }
        Ok(Published::Some(done.len()))
    }
}

enum Published {
    Nothing,
    Some(usize),
    Failed,
}
