//! The search indexer: every domain event → OpenSearch, one document per event with the
//! event id as document id, so a replay overwrites and never duplicates. Exercise
//! definitions also go to the exercise index (one document per exercise, versioned by
//! the exercise's revision, so a replayed older revision never overwrites a newer one). Every item of a
//! bulk response is checked; what failed for a passing reason is retried, what the index
//! refuses outright is dead-lettered. Kafka offsets are committed after the bulk succeeds.

mod bulk;

use fitsync_events::{CloudEvent, ExerciseDefined, Topic, EXERCISE_DEFINED_V1, HEARTBEAT_V1};
use fitsync_platform::config::{JobSettings, KafkaSettings, OpenSearchSettings};
use opensearch::{http::transport::Transport, OpenSearch};
use rdkafka::{message::OwnedMessage, Message};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use fitsync_platform::stream::{
    runner::{self, BatchJob},
    source::KafkaSource,
    stats::JobStats,
    ConsumerSpec,
};

pub const JOB: &str = "indexer";

/// The domain topics (history) and the exercise library (search).
const INDEXED: [Topic; 5] = [
    Topic::Users,
    Topic::Training,
    Topic::Schedule,
    Topic::Progress,
    Topic::Exercises,
];

/// How long a batch fills (unless it reaches 2 000 first): the index shows new documents
/// only at its next refresh (every second) anyway. With the jobs' 20 ms the indexer sent
/// a bulk request every few tens of milliseconds at 500 writes/s, fell behind, and took
/// CPU the alert path needed (docs/benchmarks.md, alerts runs 21–41).
const WINDOW: std::time::Duration = std::time::Duration::from_millis(250);

pub struct EventIndexer {
    client: OpenSearch,
    index: String,
    exercises: String,
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
            index: opensearch.index("events"),
            exercises: opensearch.index("exercises"),
            consumer: ConsumerSpec::new(&kafka, &settings, JOB, &INDEXED)?
                .max_batch(2000)
                .min_window(WINDOW),
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
        bulk::ensure_index(&self.client, &self.index, bulk::events_index()).await?;
        bulk::ensure_index(&self.client, &self.exercises, bulk::exercises_index()).await
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
            match documents(m, &self.index, &self.exercises) {
                Ok(found) if found.is_empty() => stats.skipped += 1,
                Ok(found) => docs.extend(found.into_iter().map(|doc| (m, doc))),
                Err(reason) => rejected.push((m, reason)),
            }
        }
        let refused = bulk::index_all(&self.client, &docs).await?;
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
    opensearch.index("events")
}

/// The documents of one event: its history document (the envelope plus where it sits in
/// Kafka), or for an exercise definition the exercise's search document. Heartbeats are
/// plumbing, not history: nothing.
fn documents(m: &OwnedMessage, events: &str, exercises: &str) -> Result<Vec<bulk::Doc>, String> {
    let payload = m.payload().ok_or("empty payload")?;
    let event = CloudEvent::from_slice(payload).map_err(|e| e.to_string())?;
    if event.event_type == HEARTBEAT_V1 {
        return Ok(Vec::new());
    }
    if event.event_type == EXERCISE_DEFINED_V1 {
        let e: ExerciseDefined = event
            .payload(EXERCISE_DEFINED_V1)
            .map_err(|e| e.to_string())?;
        let mut doc = serde_json::to_value(&e).map_err(|e| e.to_string())?;
        doc["owner"] = json!(e
            .owner_id
            .map_or(fitsync_events::LIBRARY_KEY.to_owned(), |o| o.to_string()));
        // Reference data, not history: only the exercise index.
        return Ok(vec![bulk::Doc {
            index: exercises.to_owned(),
            id: e.exercise_id.to_string(),
            version: u64::try_from(e.revision).ok(),
            body: doc,
        }]);
    }
    let mut doc = serde_json::to_value(&event).map_err(|e| e.to_string())?;
    doc["kafka"] = json!({"topic": m.topic(), "partition": m.partition(), "offset": m.offset()});
    Ok(vec![bulk::Doc {
        index: events.to_owned(),
        id: event.id.to_string(),
        version: None,
        body: doc,
    }])
}
