//! The search indexer: every domain event → OpenSearch, one document per event with the
//! event id as document id, so a replay overwrites and never duplicates. Every item of a
//! bulk response is checked; what failed for a passing reason is retried, what the index
//! refuses outright is dead-lettered. Kafka offsets are committed after the bulk succeeds.

mod bulk;

use fitsync_events::{CloudEvent, Topic, HEARTBEAT_V1};
use fitsync_platform::config::{JobSettings, KafkaSettings, OpenSearchSettings};
use opensearch::{http::transport::Transport, OpenSearch};
use rdkafka::{message::OwnedMessage, Message};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use fitsync_platform::stream::{
    runner::{self, BatchJob},
    source::KafkaSource,
    stats::JobStats,
    ConsumerSpec,
};

pub const JOB: &str = "indexer";

pub struct EventIndexer {
    client: OpenSearch,
    index: String,
    consumer: ConsumerSpec,
}

impl EventIndexer {
    pub fn new(
        opensearch: &OpenSearchSettings,
        kafka: KafkaSettings,
        settings: JobSettings,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: OpenSearch::new(Transport::single_node(&opensearch.url)?),
            index: events_index(opensearch),
            consumer: ConsumerSpec::new(&kafka, &settings, JOB, &Topic::DOMAIN)?.max_batch(2000),
        })
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let result = runner::run(&self, &shutdown).await;
        runner::drop_blocking(JOB, self).await;
        result
    }
}

impl BatchJob for EventIndexer {
    const NAME: &'static str = JOB;

    fn spec(&self) -> &ConsumerSpec {
        &self.consumer
    }

    async fn prepare(&self) -> anyhow::Result<()> {
        bulk::ensure_index(&self.client, &self.index).await
    }

    async fn subscribe(&self) -> anyhow::Result<KafkaSource> {
        self.consumer.subscribe(None)
    }

    #[tracing::instrument(skip_all, fields(job = JOB, messages = batch.len()), err)]
    async fn process(&self, batch: &[OwnedMessage]) -> anyhow::Result<JobStats> {
        let mut stats = JobStats::default();
        let mut docs = Vec::with_capacity(batch.len());
        let mut rejected = Vec::new();
        for m in batch {
            match document(m) {
                Ok(Some(doc)) => docs.push((m, doc)),
                Ok(None) => stats.skipped += 1,
                Err(reason) => rejected.push((m, reason)),
            }
        }
        let refused = bulk::index_all(&self.client, &self.index, &docs).await?;
        stats.applied = (docs.len() - refused.len()) as u64;
        rejected.extend(refused);
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
            stats.dead_lettered = rejected.len() as u64;
        }
        Ok(stats)
    }
}

pub fn events_index(opensearch: &OpenSearchSettings) -> String {
    format!("{}events", opensearch.index_prefix)
}

/// The searchable document of one event: the envelope plus where it sits in Kafka.
/// Heartbeats are plumbing, not history: not indexed.
fn document(m: &OwnedMessage) -> Result<Option<(String, Value)>, String> {
    let payload = m.payload().ok_or("empty payload")?;
    let event = CloudEvent::from_slice(payload).map_err(|e| e.to_string())?;
    if event.event_type == HEARTBEAT_V1 {
        return Ok(None);
    }
    let id = event.id.to_string();
    let mut doc = serde_json::to_value(&event).map_err(|e| e.to_string())?;
    doc["kafka"] = json!({"topic": m.topic(), "partition": m.partition(), "offset": m.offset()});
    Ok(Some((id, doc)))
}
