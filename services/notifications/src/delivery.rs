//! Alert delivery on external channels: one worker per channel (email today) sends the
//! `alert_deliveries` rows the alerts job queued, so a slow or failing channel holds up
//! only itself.
//!
//! A worker claims due rows (`pending` and due, or `sending` with a lapsed claim: the
//! process stopped mid-send) with `for update skip locked`, so several processes share
//! the work and none takes a row another holds. A claim commits before the message is
//! handed over; the outcome is recorded after: `sent`; a transient failure goes back to
//! `pending`, due after `retry_base_ms` · 2^(attempts − 1) (at most an hour); a permanent
//! failure, or `max_attempts` used, is `dead` — listed by
//! `GET /api/notifications/alert-deliveries?status=dead` and replayed by an admin.
//! Every row survives a restart; a send interrupted between the SMTP server's acceptance
//! and the record is sent again with the same `Message-ID` (at least once, recognisably
//! the same message). A worker records an outcome only while the claim is still its own.
//! Quiet hours and preferences are applied when the alert is queued: a retry or a replay
//! does not look at them again. Rows are created only when an alert fires, once per (alert,
//! channel), so a replayed trigger never sends twice.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use fitsync_platform::config::DeliverySettings;
use futures::StreamExt;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    email::{Mailer, SendError},
    Hub,
};

/// How long a claim may be a send in flight before another worker takes the row over:
/// twice the SMTP timeout.
const CLAIM_LEASE_SECS: f64 = 20.0;

/// Rows one claim takes, all sent at once (none waits in a queue while its lease runs).
const CLAIM: i64 = 8;

pub struct EmailWorker {
    pool: PgPool,
    mailer: Mailer,
    hub: Arc<Hub>,
    settings: DeliverySettings,
}

/// One claimed delivery with what its email says.
struct Due {
    id: Uuid,
    attempts: i32,
    /// The claim: the outcome is recorded only if the row is still this claim's.
    claimed_at: DateTime<Utc>,
    email: Option<String>,
    title: String,
    body: String,
    kind: String,
}

impl EmailWorker {
    pub fn new(pool: PgPool, mailer: Mailer, hub: Arc<Hub>, settings: DeliverySettings) -> Self {
        Self {
            pool,
            mailer,
            hub,
            settings,
        }
    }

    /// Sends what is due until `shutdown`, woken by new alerts and every poll interval.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut wake = self.hub.subscribe();
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.round().await {
                Ok(claimed) => {
                    backoff = Duration::from_millis(100);
                    if claimed as i64 == CLAIM {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "email delivery round failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = wake.recv() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Claims what is due and sends it; returns how many it claimed.
    async fn round(&self) -> anyhow::Result<usize> {
        let due = sqlx::query_as!(
            Due,
            r#"with c as (select id from alert_deliveries
                          where channel = 'email'
                            and ((status = 'pending' and due_at <= now())
                                 or (status = 'sending' and claimed_at < now() - make_interval(secs => $2)))
                          order by due_at limit $1 for update skip locked),
                    d as (update alert_deliveries d
                          set status = 'sending', claimed_at = now(), attempts = d.attempts + 1
                          from c where d.id = c.id
                          returning d.id, d.notification_id, d.user_id, d.attempts, d.claimed_at)
               select d.id as "id!", d.attempts as "attempts!", d.claimed_at as "claimed_at!",
                      r.email as "email?",
                      i.title as "title!", i.body as "body!", i.kind as "kind!"
               from d join inbox i on i.notification_id = d.notification_id
               left join recipients r on r.user_id = d.user_id"#,
            CLAIM,
            CLAIM_LEASE_SECS
        )
        .fetch_all(&self.pool)
        .await?;
        let claimed = due.len();
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(due)
            .map(|d| self.send(d))
            .buffer_unordered(CLAIM as usize)
            .collect()
            .await;
        results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(claimed)
    }

    async fn send(&self, d: Due) -> anyhow::Result<()> {
        let outcome = match &d.email {
            None => Err(SendError::Permanent("no verified address".into())),
            Some(to) => {
                let (text, html) = render(&d, self.mailer.public_url());
                self.mailer
                    .send_alert(
                        to,
                        &d.title,
                        text,
                        html,
                        &format!("<{}@alerts.fitsync>", d.id),
                    )
                    .await
            }
        };
        fitsync_platform::fault::point("alert_email.after_send");
        let (status, error, delay_ms) = match outcome {
            Ok(()) => ("sent", None, 0),
            Err(SendError::Permanent(e)) => ("dead", Some(e), 0),
            Err(SendError::Transient(e)) if d.attempts >= self.settings.max_attempts => {
                ("dead", Some(e), 0)
            }
            Err(SendError::Transient(e)) => {
                let shift = u32::try_from(d.attempts - 1).unwrap_or(0).min(20);
                let delay = self
                    .settings
                    .retry_base_ms
                    .saturating_mul(1 << shift)
                    .min(3_600_000);
                ("pending", Some(e), delay)
            }
        };
        if let Some(e) = &error {
            tracing::warn!(delivery = %d.id, attempts = d.attempts, status, error = %e, "alert email not sent");
        }
        counted(status);
        // Only if still this claim's: a worker that took a lapsed claim over owns the
        // outcome from then on.
        let recorded = sqlx::query!(
            "update alert_deliveries
             set status = $2, last_error = $3, claimed_at = null,
                 sent_at = case when $2 = 'sent' then now() end,
                 due_at = case when $2 = 'pending' then now() + make_interval(secs => $4) else due_at end
             where id = $1 and status = 'sending' and claimed_at = $5",
            d.id,
            status,
            error,
            delay_ms as f64 / 1000.0,
            d.claimed_at
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        if recorded == 0 {
            tracing::warn!(delivery = %d.id, "the claim lapsed and was taken over; its outcome is the other worker's");
        }
        Ok(())
    }
}

/// The alert's email as text and HTML (escaped), with a link to the inbox.
fn render(d: &Due, public_url: &str) -> (String, String) {
    let link = format!("{}/inbox", public_url.trim_end_matches('/'));
    let text = format!(
        "{}\n\n{}\n\nOpen your FitSync inbox: {link}\n\nChoose which alerts reach you by email in your notification preferences.\n",
        d.title, d.body
    );
    let html = format!(
        "<!doctype html><html><body><h1>{}</h1><p>{}</p><p><a href=\"{}\">Open your FitSync inbox</a></p>\
         <p style=\"color:#666\">Choose which alerts reach you by email in your notification preferences. ({})</p></body></html>",
        escape(&d.title),
        escape(&d.body),
        escape(&link),
        escape(&d.kind)
    );
    (text, html)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Counts outcomes (`fitsync_alert_deliveries_total{channel, status}`).
fn counted(status: &str) {
    static COUNTER: std::sync::LazyLock<prometheus::IntCounterVec> =
        std::sync::LazyLock::new(|| {
            prometheus::register_int_counter_vec!(
                "fitsync_alert_deliveries_total",
                "Alert delivery attempts by channel and outcome (sent, pending = retried, dead)",
                &["channel", "status"]
            )
            .expect("the delivery counter registers once")
        });
    COUNTER.with_label_values(&["email", status]).inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_both_parts_carry_the_alert() {
        let d = Due {
            id: Uuid::nil(),
            attempts: 1,
            claimed_at: Utc::now(),
            email: None,
            title: "New <record>".into(),
            body: "Squat & \"bench\"".into(),
            kind: "personal_record".into(),
        };
        let (text, html) = render(&d, "https://fitsync.example/");
        assert!(text.contains("New <record>") && text.contains("https://fitsync.example/inbox"));
        assert!(html.contains("New &lt;record&gt;"));
        assert!(html.contains("Squat &amp; &quot;bench&quot;"));
        assert!(!html.contains("<record>"));
    }
}
