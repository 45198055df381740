//! The loop every stream job shares: prepare, subscribe, take micro-batches, process,
//! commit; on a failure (a broker or a sink down, a failed batch), back off and start
//! over from the job's recorded position (nothing of the failed batch was recorded).
//! A job never stops the process: it retries until shutdown.
//!
//! Nothing here blocks a runtime worker: Kafka commits are asynchronous (a synchronous
//! `rd_kafka_commit` waits for the broker, and with the broker down it froze every
//! worker of the runtime, API included), and a consumer is closed on the blocking pool
//! (closing waits for the group coordinator).

use std::{future::Future, time::Duration};

use rdkafka::{consumer::CommitMode, message::OwnedMessage};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{source::KafkaSource, stats::JobStats, ConsumerSpec};

pub trait BatchJob: Sync {
    const NAME: &'static str;

    fn spec(&self) -> &ConsumerSpec;

    /// What the sink needs before the first batch (an index, a table); retried with
    /// backoff like everything else.
    fn prepare(&self) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }

    fn subscribe(&self) -> impl Future<Output = anyhow::Result<KafkaSource>> + Send;

    fn process(
        &self,
        batch: &[OwnedMessage],
    ) -> impl Future<Output = anyhow::Result<JobStats>> + Send;
}

/// Runs `job` until `shutdown`, retrying every failure with exponential backoff.
pub async fn run<J: BatchJob>(job: &J, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let initial = Duration::from_millis(200);
    let mut backoff = Backoff::new(initial, Duration::from_secs(10));
    let mut prepared = false;
    while !shutdown.is_cancelled() {
        if !prepared {
            let ready = async {
                job.spec().ensure_topics().await?;
                job.prepare().await
            };
            if let Err(e) = ready.await {
                tracing::error!(
                    job = J::NAME,
                    error = format!("{e:#}"),
                    "preparing failed; retrying"
                );
                if !backoff.wait(shutdown).await {
                    break;
                }
                continue;
            }
            prepared = true;
        }
        let source = match job.subscribe().await {
            Ok(source) => source,
            Err(e) => {
                tracing::error!(
                    job = J::NAME,
                    error = format!("{e:#}"),
                    "subscribing failed"
                );
                if !backoff.wait(shutdown).await {
                    break;
                }
                continue;
            }
        };
        let stop = consume(job, &source, shutdown, &mut backoff).await;
        drop_blocking("a Kafka consumer", source).await;
        if stop {
            break;
        }
    }
    Ok(())
}

/// Batches until shutdown (`true`) or a failed batch (`false`: rebuild the consumer).
async fn consume<J: BatchJob>(
    job: &J,
    source: &KafkaSource,
    shutdown: &CancellationToken,
    backoff: &mut Backoff,
) -> bool {
    loop {
        let batch = source.next_batch(shutdown).await;
        if batch.is_empty() {
            return true;
        }
        let started = Instant::now();
        match job.process(&batch).await {
            Ok(stats) => {
                stats.record(J::NAME, started.elapsed().as_secs_f64());
                backoff.reset();
                // Asynchronous: sinks that keep offsets have them already; for the others
                // a lost commit only means a harmless re-read.
                if let Err(e) = source.commit(&batch, CommitMode::Async) {
                    tracing::warn!(job = J::NAME, error = %e, "Kafka offset commit failed");
                }
            }
            Err(e) => {
                tracing::error!(
                    job = J::NAME,
                    error = format!("{e:#}"),
                    "batch failed; re-reading it"
                );
                return !backoff.wait(shutdown).await;
            }
        }
    }
}

/// Drops `value` on the blocking pool. Dropping a Kafka client blocks: a consumer's close
/// waits for the group coordinator, a producer's destroy for its broker threads, and
/// either may be waiting on the broker that just died.
pub async fn drop_blocking<T: Send + 'static>(what: &'static str, value: T) {
    let dropping = tokio::task::spawn_blocking(move || drop(value));
    if tokio::time::timeout(Duration::from_secs(30), dropping)
        .await
        .is_err()
    {
        tracing::warn!("{what} is still closing; leaving it behind");
    }
}

/// Exponential backoff that gives way to shutdown.
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            current: initial,
        }
    }

    pub fn reset(&mut self) {
        self.current = self.initial;
    }

    /// Sleeps the current delay and doubles it; `false` if shutdown came first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.current;
        self.current = (self.current * 2).min(self.max);
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }
}
