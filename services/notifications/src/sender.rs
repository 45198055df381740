//! The email sender: `email_requested` events → SMTP.
//!
//! Delivery is **at least once**, duplicates only after a crash, and then recognisable:
//! each notification is claimed (a `deliveries` row, `sending`, committed) before the
//! message goes to the SMTP server, and recorded (`sent` / `failed`) after. A re-read
//! event whose row is `sent` or `failed` is not sent again. A row still `sending` after
//! `CLAIM_LEASE` means the sender stopped between handing the message over and recording
//! it — whether the server got it is unknown — so it is sent again, with the same
//! `Message-ID`, at most `MAX_INTERRUPTED` times (a younger claim may be another
//! consumer's send in flight, during a rebalance: the batch waits and is read again). A
//! transient SMTP failure marks the row `pending` and fails the batch, which is read
//! again after a backoff; nothing is lost.

use fitsync_events::{CloudEvent, EmailRequested, Topic, EMAIL_REQUESTED_V2};
use fitsync_platform::{
    config::{JobSettings, KafkaSettings},
    fault,
    sealed::Sealer,
    stream::{runner, BatchJob, ConsumerSpec, JobStats, KafkaSource},
};
use rdkafka::{message::OwnedMessage, Message};
use sqlx::PgPool;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::email::{Mailer, SendError};

pub const JOB: &str = "email";

/// Sends interrupted this many times are not tried again (the row becomes `failed`).
const MAX_INTERRUPTED: i32 = 3;

/// How long a claim may be another sender's send in flight: twice the SMTP timeout.
const CLAIM_LEASE_SECS: f64 = 20.0;

pub struct EmailSender {
    pool: PgPool,
    mailer: Mailer,
    sealer: Arc<Sealer>,
    consumer: ConsumerSpec,
}

/// What the claim decided.
enum Claim {
    /// Send it: first attempt, or again after a transient failure or an interruption.
    Send { message_id: String },
    /// Already sent or given up on.
    Done,
}

impl EmailSender {
    pub fn new(
        pool: PgPool,
        mailer: Mailer,
        sealer: Arc<Sealer>,
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
            sealer,
        })
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let result = runner::run(&self, &shutdown).await;
        runner::drop_blocking(JOB, self).await;
        result
    }

    /// Claims the notification in its own committed transaction.
    async fn claim(&self, request: &EmailRequested) -> anyhow::Result<Claim> {
        let mut tx = self.pool.begin().await?;
        let previous = sqlx::query!(
            r#"select status, attempts, message_id,
                      coalesce(claimed_at > now() - make_interval(secs => $2), false) as "leased!"
               from deliveries where notification_id = $1 for update"#,
            request.notification_id,
            CLAIM_LEASE_SECS
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| (r.status, r.attempts, r.message_id, r.leased));
        let message_id = format!("<{}@notifications.fitsync>", request.notification_id);
        let claim = match previous {
            None => {
                let template = serde_json::to_value(request.template)?;
                sqlx::query!(
        "insert into deliveries (notification_id, user_id, channel, address, template, status, attempts, message_id, claimed_at)
                     values ($1, $2, 'email', $3, $4, 'sending', 1, $5, now())",
        request.notification_id,
        request.user_id,
        &request.to,
        template.as_str().unwrap_or_default(),
        &message_id
    )
                .execute(&mut *tx)
                .await?;
                Claim::Send { message_id }
            }
            Some((status, _, _, _)) if status == "sent" || status == "failed" => Claim::Done,
            Some((status, _, _, true)) if status == "sending" => {
                anyhow::bail!(
                    "notification {} is being sent by another consumer",
                    request.notification_id
                )
            }
            Some((status, attempts, _, _))
                if status == "sending" && attempts >= MAX_INTERRUPTED =>
            {
                sqlx::query!(
        "update deliveries set status = 'failed', last_error = 'interrupted too often; outcome unknown'
                     where notification_id = $1",
        request.notification_id
    )
                .execute(&mut *tx)
                .await?;
                Claim::Done
            }
            Some((status, _, stored, _)) => {
                if status == "sending" {
                    tracing::warn!(notification = %request.notification_id, "a send was interrupted; sending again with the same Message-ID");
                }
                sqlx::query!(
        "update deliveries set status = 'sending', attempts = attempts + 1, claimed_at = now()
                     where notification_id = $1",
        request.notification_id
    )
                .execute(&mut *tx)
                .await?;
                Claim::Send {
                    message_id: stored.unwrap_or(message_id),
                }
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// `true` if sent now; `false` if it had been already.
    async fn deliver(&self, request: &EmailRequested) -> anyhow::Result<bool> {
        let token = self
            .sealer
            .open(request.notification_id.as_bytes(), &request.sealed_token)
            .map_err(|e| anyhow::Error::new(e).context("opening the sealed token"))?;
        let Claim::Send { message_id } = self.claim(request).await? else {
            return Ok(false);
        };
        let outcome = self.mailer.send(request, &token, &message_id).await;
        fault::point("email.after_send");
        let (status, error) = match outcome {
            Ok(()) => ("sent", None),
            Err(SendError::Permanent(e)) => ("failed", Some(e)),
            Err(SendError::Transient(e)) => {
                sqlx::query!(
        "update deliveries set status = 'pending', last_error = $2 where notification_id = $1",
        request.notification_id,
        &e
    )
                .execute(&self.pool)
                .await?;
                // The batch fails and is read again after a backoff.
                anyhow::bail!("smtp: {e}");
            }
        };
        sqlx::query!(
            "update deliveries set status = $2, last_error = $3,
                    sent_at = case when $2 = 'sent' then now() end
             where notification_id = $1",
            request.notification_id,
            status,
            error
        )
        .execute(&self.pool)
        .await?;
        Ok(status == "sent")
    }
}

/// The request type before tokens were sealed: never sent (its token travelled in the
/// clear), dead-lettered with the reason so that it is counted and seen, not skipped.
const EMAIL_REQUESTED_V1: &str = "fitsync.notification.email_requested.v1";

fn decode(m: &OwnedMessage) -> Result<Option<EmailRequested>, String> {
    let event =
        CloudEvent::from_slice(m.payload().ok_or("empty payload")?).map_err(|e| e.to_string())?;
    if event.event_type == EMAIL_REQUESTED_V1 {
        return Err(format!(
            "{EMAIL_REQUESTED_V1} carries its token in the clear and is not sent; the user asks again"
        ));
    }
    if event.event_type != EMAIL_REQUESTED_V2 {
        return Ok(None);
    }
    event
        .payload(EMAIL_REQUESTED_V2)
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
                    // A token no key here opens is a bad message, not a reason to stop.
                    if self
                        .sealer
                        .open(request.notification_id.as_bytes(), &request.sealed_token)
                        .is_err()
                    {
                        rejected.push((m, "the sealed token does not open with this key".into()));
                    } else if self.deliver(&request).await? {
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
