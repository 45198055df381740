//! A Kafka micro-batch source. With an offset loader, assigned partitions start where
//! the sink's own offset table says (the sink is the source of truth; Kafka commits are
//! advisory); without one, where the group last committed.

use std::{collections::HashMap, sync::Arc, time::Duration};

use fitsync_platform::{config::KafkaSettings, kafka};
use rdkafka::{
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, StreamConsumer},
    error::KafkaResult,
    message::OwnedMessage,
    types::RDKafkaRespErr,
    ClientContext, Message, Offset, TopicPartitionList,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::offsets::PartitionKey;

/// Loads stored offsets for newly assigned partitions. Called from librdkafka's
/// rebalance callback, so it is synchronous.
pub type OffsetLoader =
    Arc<dyn Fn(&[PartitionKey]) -> anyhow::Result<HashMap<PartitionKey, i64>> + Send + Sync>;

/// An offset loader reading the sink's table through `pool`. The rebalance callback
/// runs on a runtime thread, so the query runs on a scoped helper thread.
pub fn table_offsets(pool: sqlx::PgPool, group: String) -> OffsetLoader {
    let handle = tokio::runtime::Handle::current();
    Arc::new(move |partitions: &[PartitionKey]| {
        std::thread::scope(|s| {
            s.spawn(|| handle.block_on(crate::offsets::load(&pool, &group, partitions)))
                .join()
                .map_err(|_| anyhow::anyhow!("offset loader panicked"))?
                .map_err(anyhow::Error::from)
        })
    })
}

pub struct SeekingContext {
    loader: Option<OffsetLoader>,
}

impl ClientContext for SeekingContext {}

impl ConsumerContext for SeekingContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                if let Some(loader) = &self.loader {
                    let keys: Vec<PartitionKey> = tpl
                        .elements()
                        .iter()
                        .map(|e| (e.topic().to_owned(), e.partition()))
                        .collect();
                    match loader(&keys) {
                        Ok(stored) => {
                            for ((topic, partition), offset) in stored {
                                if let Err(e) = tpl.set_partition_offset(
                                    &topic,
                                    partition,
                                    Offset::Offset(offset),
                                ) {
                                    tracing::error!(error = %e, topic, partition, "setting a stored offset");
                                }
                            }
                        }
                        // Assigning without them would reprocess from Kafka's commit;
                        // the batch transaction's offset check still prevents double counts.
                        Err(e) => tracing::error!(error = %e, "loading stored offsets"),
                    }
                }
                tracing::info!(partitions = tpl.count(), "partitions assigned");
                if let Err(e) = consumer.assign(tpl) {
                    tracing::error!(error = %e, "assign failed");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                if let Err(e) = consumer.unassign() {
                    tracing::error!(error = %e, "unassign failed");
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance error");
                let _ = consumer.unassign();
            }
        }
    }
}

pub struct KafkaSource {
    consumer: StreamConsumer<SeekingContext>,
    max_batch: usize,
    window: Duration,
}

impl KafkaSource {
    pub fn subscribe(
        kafka_settings: &KafkaSettings,
        group: &str,
        topics: &[String],
        loader: Option<OffsetLoader>,
        max_batch: usize,
        window: Duration,
    ) -> anyhow::Result<Self> {
        let consumer: StreamConsumer<SeekingContext> = kafka::client_config(kafka_settings)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("partition.assignment.strategy", "range")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("fetch.wait.max.ms", "5")
            .set("fetch.min.bytes", "1")
            .create_with_context(SeekingContext { loader })?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
        Ok(Self {
            consumer,
            max_batch,
            window,
        })
    }

    /// Waits for a first message, then gathers more until the batch is full or the
    /// window has passed. Empty only on shutdown.
    pub async fn next_batch(&self, shutdown: &CancellationToken) -> Vec<OwnedMessage> {
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return batch,
                m = self.consumer.recv() => match m {
                    Ok(m) => { batch.push(m.detach()); break; }
                    Err(e) => {
                        // librdkafka reconnects by itself and logs broker state changes.
                        tracing::debug!(error = %e, "consume error");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
            }
        }
        let deadline = Instant::now() + self.window;
        while batch.len() < self.max_batch {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(m)) => batch.push(m.detach()),
                Ok(Err(e)) => tracing::debug!(error = %e, "consume error"),
                Err(_) => break,
            }
        }
        batch
    }

    /// Advisory commit of what the sink has durably taken.
    pub fn commit(&self, batch: &[OwnedMessage], mode: CommitMode) -> KafkaResult<()> {
        let next = next_offsets(batch);
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in &next {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
        }
        self.consumer.commit(&tpl, mode)
    }
}

/// Per partition, the offset after the last message of `batch`.
pub fn next_offsets(batch: &[OwnedMessage]) -> HashMap<PartitionKey, i64> {
    let mut next: HashMap<PartitionKey, i64> = HashMap::new();
    for m in batch {
        let entry = next
            .entry((m.topic().to_owned(), m.partition()))
            .or_insert(0);
        *entry = (*entry).max(m.offset() + 1);
    }
    next
}
