//! Kafka client settings shared by the relay and the stream jobs.

use std::time::Duration;

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::RDKafkaErrorCode,
    ClientConfig,
};

use crate::config::KafkaSettings;
use rdkafka::consumer::Consumer;

pub fn client_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.brokers)
        .set("socket.keepalive.enable", "true")
        // A consumer subscribed to a topic created a moment earlier (a fresh cluster, a
        // new prefix) may not see it in its first metadata: librdkafka looks again only
        // at this interval (default 5 minutes, during which the topic is not consumed).
        .set("topic.metadata.refresh.interval.ms", "10000")
        .set("log_level", "4");
    config
}

/// A producer's settings: idempotent, acknowledged by all in-sync replicas.
pub fn producer_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = client_config(settings);
    config
        // Java clients' partitioner: the same key lands on the same partition whoever produces.
        .set("partitioner", "murmur2_random")
        .set("enable.idempotence", "true")
        .set("acks", "all");
    config
}

/// Creates `topics` if missing, with the configured partitions and replication; those
/// marked `true` compacted.
#[tracing::instrument(skip(settings), err)]
pub async fn ensure_topics(
    settings: &KafkaSettings,
    topics: &[(String, bool)],
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(settings).create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(t, compacted)| {
            let topic = NewTopic::new(
                t,
                settings.partitions,
                TopicReplication::Fixed(settings.replication_factor),
            );
            if *compacted {
                topic.set("cleanup.policy", "compact")
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
    let created = admin.create_topics(new.iter(), &options).await;
    // Dropping an admin client joins its polling thread and destroys the client, which
    // can wait on the broker: never on a runtime worker.
    std::thread::spawn(move || drop(admin));
    for result in created? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("creating topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// How many partitions `topic` has, from the cluster's metadata (a blocking request,
/// made on the blocking pool).
pub async fn partitions_of(settings: &KafkaSettings, topic: &str) -> anyhow::Result<i32> {
    let client: rdkafka::consumer::BaseConsumer = client_config(settings).create()?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let metadata = client.fetch_metadata(Some(&topic), Duration::from_secs(5))?;
        let count = metadata
            .topics()
            .first()
            .map_or(0, |t| t.partitions().len());
        anyhow::ensure!(count > 0, "topic {topic} has no partitions");
        Ok(i32::try_from(count)?)
    })
    .await?
}
