//! The loop every stream job shares: subscribe, take micro-batches, process, commit;
//! on a failed batch, back off and rebuild the consumer so that it re-reads from the
//! job's recorded position (nothing of the failed batch was recorded).

use std::{future::Future, time::Duration};

use rdkafka::{consumer::CommitMode, message::OwnedMessage};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{source::KafkaSource, stats::JobStats, ConsumerSpec};

pub trait BatchJob: Sync {
    const NAME: &'static str;
    /// `Async` where Kafka commits are advisory (offsets live with the results),
    /// `Sync` where they are the job's position.
    const COMMIT: CommitMode;

    fn spec(&self) -> &ConsumerSpec;

    fn subscribe(&self) -> impl Future<Output = anyhow::Result<KafkaSource>> + Send;

    fn process(
        &self,
        batch: &[OwnedMessage],
    ) -> impl Future<Output = anyhow::Result<JobStats>> + Send;
}

pub async fn run<J: BatchJob>(job: &J, shutdown: &CancellationToken) -> anyhow::Result<()> {
    job.spec().ensure_topics().await?;
    let initial = Duration::from_millis(200);
    let mut backoff = initial;
    while !shutdown.is_cancelled() {
        let source = match job.subscribe().await {
            Ok(source) => source,
            Err(e) => {
                tracing::error!(job = J::NAME, error = ?e, "subscribing failed");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        loop {
            let batch = source.next_batch(shutdown).await;
            if batch.is_empty() {
                return Ok(());
            }
            let started = Instant::now();
            match job.process(&batch).await {
                Ok(stats) => {
                    stats.record(J::NAME, started.elapsed().as_secs_f64());
                    backoff = initial;
                    if let Err(e) = source.commit(&batch, J::COMMIT) {
                        tracing::warn!(job = J::NAME, error = %e, "Kafka offset commit failed");
                    }
                }
                Err(e) => {
                    tracing::error!(job = J::NAME, error = ?e, "batch failed; re-reading it");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    break;
                }
            }
        }
    }
    Ok(())
}
