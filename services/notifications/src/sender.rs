//! The email sender: `email_requested` events → SMTP, each notification at most once
//! (the `deliveries` row is its record), none lost (a transient SMTP failure fails the
//! batch, which is read again after a backoff).

use fitsync_events::{CloudEvent, EmailRequested, Topic, EMAIL_REQUESTED_V1};
use fitsync_platform::{
    config::{JobSettings, KafkaSettings},
    stream::{runner, BatchJob, ConsumerSpec, JobStats, KafkaSource},
};
use rdkafka::{message::OwnedMessage, Message};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::email::{Mailer, SendError};

pub const JOB: &str = "email";

pub struct EmailSender {
    pool: PgPool,
    mailer: Mailer,
    consumer: ConsumerSpec,
}

impl EmailSender {
    pub fn new(
        pool: PgPool,
        mailer: Mailer,
        kafka: KafkaSettings,
        settings: JobSettings,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            consumer: ConsumerSpec::new(
                &kafka,
                &settings,
                &format!("notifications-{JOB}"),
                &[Topic::Notifications],
            )?
            .max_batch(100),
            pool,
            mailer,
        })
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let result = runner::run(&self, &shutdown).await;
        runner::drop_blocking(JOB, self).await;
        result
    }

    async fn deliver(&self, request: &EmailRequested) -> anyhow::Result<bool> {
        let done: bool = sqlx::query_scalar(
            "select exists(select 1 from deliveries where notification_id = $1)",
        )
        .bind(request.notification_id)
        .fetch_one(&self.pool)
        .await?;
        if done {
            return Ok(false);
        }
        let (status, error) = match self.mailer.send(request).await {
            Ok(()) => ("sent", None),
            Err(SendError::Permanent(e)) => ("failed", Some(e)),
            // Nothing recorded: the batch fails and is read again.
            Err(SendError::Transient(e)) => anyhow::bail!("smtp: {e}"),
        };
        sqlx::query(
            "insert into deliveries (notification_id, user_id, channel, address, template, status, attempts, last_error, sent_at)
             values ($1, $2, 'email', $3, $4, $5, 1, $6, case when $5 = 'sent' then now() end)
             on conflict (notification_id) do nothing",
        )
        .bind(request.notification_id)
        .bind(request.user_id)
        .bind(&request.to)
        .bind(serde_json::to_value(request.template)?.as_str().unwrap_or_default())
        .bind(status)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(status == "sent")
    }
}

fn decode(m: &OwnedMessage) -> Result<Option<EmailRequested>, String> {
    let event =
        CloudEvent::from_slice(m.payload().ok_or("empty payload")?).map_err(|e| e.to_string())?;
    if event.event_type != EMAIL_REQUESTED_V1 {
        return Ok(None);
    }
    event
        .payload(EMAIL_REQUESTED_V1)
        .map(Some)
        .map_err(|e| e.to_string())
}

impl BatchJob for EmailSender {
    const NAME: &'static str = JOB;

    fn spec(&self) -> &ConsumerSpec {
        &self.consumer
    }

    async fn subscribe(&self) -> anyhow::Result<KafkaSource> {
        self.consumer.subscribe(None)
    }

    #[tracing::instrument(skip_all, fields(job = JOB, messages = batch.len()), err)]
    async fn process(&self, batch: &[OwnedMessage]) -> anyhow::Result<JobStats> {
        let mut stats = JobStats::default();
        let mut rejected = Vec::new();
        for m in batch {
            match decode(m) {
                Ok(Some(request)) => {
                    if self.deliver(&request).await? {
                        stats.applied += 1;
                    } else {
                        stats.duplicates += 1;
                    }
                }
                Ok(None) => stats.skipped += 1,
                Err(reason) => rejected.push((m, reason)),
            }
        }
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
            stats.dead_lettered = rejected.len() as u64;
        }
        Ok(stats)
    }
}
