//! The dead-letter sink: a message a job cannot decode or validate goes to the
//! dead-letter topic unchanged, with where it came from and why in its headers.

use crate::{config::KafkaSettings, kafka};
use fitsync_events::{Topic, Topics};
use futures::future::try_join_all;
use prometheus::{register_int_counter_vec, IntCounterVec};
use rdkafka::{
    message::{Header, OwnedHeaders, OwnedMessage},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
    Message,
};
use std::sync::LazyLock;

pub const REASON: &str = "fitsync.dlq.reason";
pub const JOB: &str = "fitsync.dlq.job";
pub const ORIGIN_TOPIC: &str = "fitsync.dlq.topic";
pub const ORIGIN_PARTITION: &str = "fitsync.dlq.partition";
pub const ORIGIN_OFFSET: &str = "fitsync.dlq.offset";

static DEAD_LETTERED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "fitsync_dead_letters_total",
        "Messages a job sent to the dead-letter topic (acknowledged by Kafka), by job",
        &["job"]
    )
    .expect("metric registers once")
});

pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    job: String,
}

impl DeadLetters {
    pub fn new(kafka_settings: &KafkaSettings, job: &str) -> anyhow::Result<Self> {
        let producer = kafka::producer_config(kafka_settings)
            .set("linger.ms", "1")
            // Fail the batch (to be retried) rather than wait five minutes for a broker.
            .set("message.timeout.ms", "30000")
            .create()?;
        // Present at zero from the start, so that alerts can use `increase()`.
        DEAD_LETTERED.with_label_values(&[job]);
        Ok(Self {
            producer,
            topic: Topics::new(kafka_settings.topic_prefix.clone()).name(Topic::DeadLetter),
            job: job.to_owned(),
        })
    }

    /// Publishes every rejected message and waits for Kafka to acknowledge all of them:
    /// only then may the batch's offsets move past them.
    pub async fn send(&self, rejected: &[(&OwnedMessage, String)]) -> anyhow::Result<()> {
        let sends = rejected.iter().map(|(m, reason)| {
            let partition = m.partition().to_string();
            let offset = m.offset().to_string();
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: REASON,
                    value: Some(reason.as_str()),
                })
                .insert(Header {
                    key: JOB,
                    value: Some(self.job.as_str()),
                })
                .insert(Header {
                    key: ORIGIN_TOPIC,
                    value: Some(m.topic()),
                })
                .insert(Header {
                    key: ORIGIN_PARTITION,
                    value: Some(&partition),
                })
                .insert(Header {
                    key: ORIGIN_OFFSET,
                    value: Some(&offset),
                });
            let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
            if let Some(key) = m.key() {
                record = record.key(key);
            }
            if let Some(payload) = m.payload() {
                record = record.payload(payload);
            }
            let delivery = self.producer.send(record, Timeout::Never);
            async move {
                delivery
                    .await
                    .map_err(|(e, _)| anyhow::Error::new(e).context("dead-letter publish"))
            }
        });
        try_join_all(sends).await?;
        DEAD_LETTERED
            .with_label_values(&[&self.job])
            .inc_by(rejected.len() as u64);
        for (m, reason) in rejected {
            tracing::warn!(job = %self.job, topic = m.topic(), partition = m.partition(), offset = m.offset(), %reason, "dead-lettered");
        }
        Ok(())
    }
}
