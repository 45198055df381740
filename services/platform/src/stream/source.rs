//! A Kafka micro-batch source. With stored offsets, assigned partitions start where the
//! sink's own offset table says (the sink is the source of truth; Kafka commits are
//! advisory); without, where the group last committed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{config::KafkaSettings, kafka};
use prometheus::{register_int_gauge_vec, IntGaugeVec};
use rdkafka::{
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, StreamConsumer},
    error::KafkaResult,
    message::OwnedMessage,
    statistics::Statistics,
    types::RDKafkaRespErr,
    ClientContext, Message, Offset, TopicPartitionList,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{offsets::PartitionKey, Batching};

/// The sink's stored offsets, loaded once when the consumer is built and kept current
/// as batches commit. The rebalance callback reads it without I/O: it runs inside
/// librdkafka's poll, on a runtime thread, where blocking on a query could starve the
/// runtime. An entry that is stale (another replica moved the partition on since) only
/// makes the job re-read messages its transaction then skips.
pub type StoredOffsets = Arc<Mutex<HashMap<PartitionKey, i64>>>;

pub struct SeekingContext {
    stored: Option<StoredOffsets>,
    group: String,
}

static LAG: std::sync::LazyLock<IntGaugeVec> = std::sync::LazyLock::new(|| {
    register_int_gauge_vec!(
        "fitsync_consumer_lag",
        "Messages between a consumer group's committed offset and the end of a partition",
        &["group", "topic", "partition"]
    )
    .expect("metric registers once")
});

static ASSIGNED: std::sync::LazyLock<IntGaugeVec> = std::sync::LazyLock::new(|| {
    register_int_gauge_vec!(
        "fitsync_consumer_assigned_partitions",
        "Partitions the group's coordinator assigned to this process's consumer",
        &["group"]
    )
    .expect("metric registers once")
});

impl ClientContext for SeekingContext {
    /// librdkafka's statistics (every `jobs.stats_interval_ms`), delivered while the
    /// consumer is polled: only gauges are set here, no I/O.
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            for (id, p) in &t.partitions {
                // -1 is librdkafka's internal "unassigned" partition; negative lag: unknown.
                if *id < 0 || p.consumer_lag < 0 {
                    continue;
                }
                LAG.with_label_values(&[&self.group, topic, &id.to_string()])
                    .set(p.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for SeekingContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                if let Some(stored) = &self.stored {
                    let keys: Vec<PartitionKey> = tpl
                        .elements()
                        .iter()
                        .map(|e| (e.topic().to_owned(), e.partition()))
                        .collect();
                    let stored = stored
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for key in keys {
                        if let Some(offset) = stored.get(&key) {
                            let (topic, partition) = &key;
                            if let Err(e) =
                                tpl.set_partition_offset(topic, *partition, Offset::Offset(*offset))
                            {
                                tracing::error!(error = %e, topic, partition, "setting a stored offset");
                            }
                        }
                    }
                }
                tracing::info!(partitions = tpl.count(), "partitions assigned");
                match consumer.assign(tpl) {
                    Ok(()) => ASSIGNED
                        .with_label_values(&[&self.group])
                        .set(i64::try_from(tpl.count()).unwrap_or(i64::MAX)),
                    Err(e) => tracing::error!(error = %e, "assign failed"),
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                ASSIGNED.with_label_values(&[&self.group]).set(0);
                if let Err(e) = consumer.unassign() {
                    tracing::error!(error = %e, "unassign failed");
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance error");
                ASSIGNED.with_label_values(&[&self.group]).set(0);
                let _ = consumer.unassign();
            }
        }
    }
}

pub struct KafkaSource {
    consumer: StreamConsumer<SeekingContext>,
    stored: Option<StoredOffsets>,
    max_batch: usize,
    window: Duration,
}

impl KafkaSource {
    pub fn subscribe(
        kafka_settings: &KafkaSettings,
        group: &str,
        topics: &[String],
        stored: Option<HashMap<PartitionKey, i64>>,
        batching: Batching,
    ) -> anyhow::Result<Self> {
        let stored = stored.map(|offsets| Arc::new(Mutex::new(offsets)));
        let consumer: StreamConsumer<SeekingContext> = kafka::client_config(kafka_settings)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("partition.assignment.strategy", "range")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set(
                "fetch.wait.max.ms",
                batching.fetch_wait.as_millis().to_string(),
            )
            .set("fetch.min.bytes", "1")
            .set(
                "statistics.interval.ms",
                batching.stats_interval.as_millis().to_string(),
            )
            .create_with_context(SeekingContext {
                stored: stored.clone(),
                group: group.to_owned(),
            })?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
        Ok(Self {
            consumer,
            stored,
            max_batch: batching.max_batch,
            window: batching.window,
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

    /// Records that the sink has durably taken `batch`: in the stored offsets, and in
    /// Kafka (advisory, or the position itself for sinks that keep none).
    pub fn commit(&self, batch: &[OwnedMessage], mode: CommitMode) -> KafkaResult<()> {
        let next = next_offsets(batch);
        if let Some(stored) = &self.stored {
            let mut stored = stored
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (key, offset) in &next {
                let entry = stored.entry(key.clone()).or_insert(*offset);
                *entry = (*entry).max(*offset);
            }
        }
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
