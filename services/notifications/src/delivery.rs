//! Alert delivery on the external channels: one worker per channel (email, SMS, web push)
//! sends the `alert_deliveries` rows the alerts job queued, so a slow or failing channel
//! holds up only itself.
//!
//! A worker claims due rows of its channel (`pending` and due, or `sending` with a
//! lapsed claim: the process stopped mid-send) with `for update skip locked`, so several
//! processes share the work and none takes a row another holds. A claim commits before
//! the message is handed over; the outcome is recorded after: `sent`; a transient failure
//! goes back to `pending`, due after `retry_base_ms` · 2^(attempts − 1) (at most an hour);
//! a permanent failure (no verified address or number, a withdrawn browser, a refusal),
//! or `max_attempts` used, is `dead` — listed by
//! `GET /api/notifications/alert-deliveries?status=dead` and replayed by an admin.
//! Every row survives a restart. A send interrupted between the provider's acceptance and
//! the record is sent again: an email with the same `Message-ID`, a text with the same
//! idempotency key (the gateway keeps one text per key), a push with the same
//! notification id (the service worker shows one per id).
//! A worker records an outcome only while the claim is still its own.
//! Quiet hours and preferences are applied when the alert is queued: a retry or a replay
//! does not look at them again. Rows are created only when an alert fires, once per
//! (alert, channel, browser), so a replayed trigger never sends twice.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use fitsync_events::{AlertDeliveryChanged, CloudEvent, Topic, ALERT_DELIVERY_V1};
use fitsync_platform::{config::DeliverySettings, outbox};
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    email::{Mailer, SendError},
    push::{PushError, PushSender, Subscription},
    sms::SmsProvider,
    Hub,
};

/// How long a claim may be a send in flight before another worker takes the row over:
/// twice the providers' timeout.
const CLAIM_LEASE_SECS: f64 = 20.0;

/// Rows one claim takes, all sent at once (none waits in a queue while its lease runs).
const CLAIM: i64 = 8;

/// An external channel and what sends on it.
#[derive(Clone)]
pub enum Channel {
    Email(Box<Mailer>),
    Sms(Arc<dyn SmsProvider>),
    Push(PushSender),
}

impl Channel {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::Sms(_) => "sms",
            Self::Push(_) => "push",
        }
    }
}

pub struct DeliveryWorker {
    pool: PgPool,
    channel: Channel,
    hub: Arc<Hub>,
    settings: DeliverySettings,
}

/// One claimed delivery with what it says and where it goes.
struct Due {
    id: Uuid,
    notification_id: Uuid,
    attempts: i32,
    /// The claim: the outcome is recorded only if the row is still this claim's.
    claimed_at: DateTime<Utc>,
    email: Option<String>,
    phone: Option<String>,
    subscription_id: Option<Uuid>,
    endpoint: Option<String>,
    p256dh: Option<Vec<u8>>,
    auth: Option<Vec<u8>>,
    title: String,
    body: String,
    kind: String,
}

impl DeliveryWorker {
    pub fn new(pool: PgPool, channel: Channel, hub: Arc<Hub>, settings: DeliverySettings) -> Self {
        Self {
            pool,
            channel,
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
                    tracing::warn!(channel = self.channel.name(), error = %e, "alert delivery round failed; retrying");
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
                _ = wake.recv() => {
                    // One round answers every wake-up already queued (an alerts batch
                    // wakes once per recipient): a round per wake-up would claim nothing
                    // most times. With the streams' second reads, those empty claims made
                    // most of notificationdb's transactions in the alerts benchmark
                    // (docs/benchmarks.md, runs 29–30).
                    while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) =
                        wake.try_recv()
                    {}
                }
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Claims what is due on this channel and sends it; returns how many it claimed.
    async fn round(&self) -> anyhow::Result<usize> {
        let due = sqlx::query_as!(
            Due,
            r#"with c as (select id from alert_deliveries
                          where channel = $3
                            and ((status = 'pending' and due_at <= now())
                                 or (status = 'sending' and claimed_at < now() - make_interval(secs => $2)))
                          order by due_at limit $1 for update skip locked),
                    d as (update alert_deliveries d
                          set status = 'sending', claimed_at = now(), attempts = d.attempts + 1
                          from c where d.id = c.id
                          returning d.id, d.notification_id, d.user_id, d.target, d.attempts, d.claimed_at)
               select d.id as "id!", d.notification_id as "notification_id!", d.attempts as "attempts!",
                      d.claimed_at as "claimed_at!",
                      r.email as "email?", p.number as "phone?",
                      s.id as "subscription_id?", s.endpoint as "endpoint?", s.p256dh as "p256dh?",
                      s.auth as "auth?",
                      i.title as "title!", i.body as "body!", i.kind as "kind!"
               from d join inbox i on i.notification_id = d.notification_id
               left join recipients r on r.user_id = d.user_id
               left join phone_numbers p on p.user_id = d.user_id and p.verified_at is not null
               left join push_subscriptions s on s.id::text = d.target and s.user_id = d.user_id"#,
            CLAIM,
            CLAIM_LEASE_SECS,
            self.channel.name()
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

    /// Hands one delivery to its channel; the provider's id where it gives one.
    async fn hand_over(&self, d: &Due) -> Result<Option<String>, SendError> {
        match &self.channel {
            Channel::Email(mailer) => {
                let to = d
                    .email
                    .as_deref()
                    .ok_or_else(|| SendError::Permanent("no verified address".into()))?;
                let (text, html) = render(d, mailer.public_url());
                mailer
                    .send_alert(
                        to,
                        &d.title,
                        text,
                        html,
                        &format!("<{}@alerts.fitsync>", d.id),
                    )
                    .await
                    .map(|()| None)
            }
            Channel::Sms(provider) => {
                let to = d
                    .phone
                    .as_deref()
                    .ok_or_else(|| SendError::Permanent("no verified number".into()))?;
                provider
                    .send(to, &sms_text(d), &d.id.to_string())
                    .await
                    .map(Some)
            }
            Channel::Push(sender) => {
                let (Some(id), Some(endpoint), Some(p256dh), Some(auth)) =
                    (d.subscription_id, &d.endpoint, &d.p256dh, &d.auth)
                else {
                    return Err(SendError::Permanent("the browser unsubscribed".into()));
                };
                let sub = Subscription {
                    id,
                    endpoint: endpoint.clone(),
                    p256dh: p256dh.clone(),
                    auth: auth.clone(),
                };
                match sender.send(&sub, &push_payload(d)).await {
                    Ok(()) => Ok(None),
                    Err(PushError::Send(e)) => Err(e),
                    Err(PushError::Gone) => {
                        // The push service forgot the browser: so does FitSync.
                        sqlx::query!("delete from push_subscriptions where id = $1", sub.id)
                            .execute(&self.pool)
                            .await
                            .map_err(|e| SendError::Transient(e.to_string()))?;
                        Err(SendError::Permanent(
                            "the push service no longer knows this browser".into(),
                        ))
                    }
                }
            }
        }
    }

    async fn send(&self, d: Due) -> anyhow::Result<()> {
        let outcome = self.hand_over(&d).await;
        fitsync_platform::fault::point(match self.channel {
            Channel::Email(_) => "alert_email.after_send",
            Channel::Sms(_) => "alert_sms.after_send",
            Channel::Push(_) => "alert_push.after_send",
        });
        let (status, error, delay_ms, provider_ref) = match outcome {
            Ok(provider_ref) => ("sent", None, 0, provider_ref),
            Err(SendError::Permanent(e)) => ("dead", Some(e), 0, None),
            Err(SendError::Transient(e)) if d.attempts >= self.settings.max_attempts => {
                ("dead", Some(e), 0, None)
            }
            Err(SendError::Transient(e)) => {
                let shift = u32::try_from(d.attempts - 1).unwrap_or(0).min(20);
                let delay = self
                    .settings
                    .retry_base_ms
                    .saturating_mul(1 << shift)
                    .min(3_600_000);
                ("pending", Some(e), delay, None)
            }
        };
        let channel = self.channel.name();
        if let Some(e) = &error {
            tracing::warn!(delivery = %d.id, channel, attempts = d.attempts, status, error = %e, "alert not delivered");
        }
        counted(channel, status);
        // Only if still this claim's: a worker that took a lapsed claim over owns the
        // outcome from then on. A final one is emitted with it (the outbox, same
        // transaction).
        let mut tx = self.pool.begin().await?;
        let recorded = sqlx::query!(
            r#"update alert_deliveries
               set status = $2, last_error = $3, claimed_at = null,
                   sent_at = case when $2 = 'sent' then now() end,
                   due_at = case when $2 = 'pending' then now() + make_interval(secs => $4) else due_at end,
                   provider_ref = coalesce($6, provider_ref)
               where id = $1 and status = 'sending' and claimed_at = $5
               returning notification_id, user_id"#,
            d.id,
            status,
            error,
            delay_ms as f64 / 1000.0,
            d.claimed_at,
            provider_ref
        )
        .fetch_optional(&mut *tx)
        .await?;
        match recorded {
            None => {
                tracing::warn!(delivery = %d.id, "the claim lapsed and was taken over; its outcome is the other worker's");
            }
            Some(r) if status != "pending" => {
                emit(
                    &mut tx,
                    AlertDeliveryChanged {
                        delivery_id: d.id,
                        notification_id: r.notification_id,
                        user_id: r.user_id,
                        channel: channel.to_owned(),
                        status: status.to_owned(),
                        attempts: d.attempts,
                        error,
                        at: Utc::now(),
                    },
                )
                .await?;
            }
            Some(_) => {}
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Emits what became of a delivery (`fitsync.notification.alert_delivery.v1` on
/// `fitsync.notifications`, through notificationdb's outbox) in the caller's transaction.
pub(crate) async fn emit(
    conn: &mut sqlx::PgConnection,
    mut change: AlertDeliveryChanged,
) -> Result<(), sqlx::Error> {
    if let Some(e) = &mut change.error {
        if e.chars().count() > 2000 {
            *e = e.chars().take(2000).collect();
        }
    }
    let event = CloudEvent::new(
        crate::SOURCE,
        ALERT_DELIVERY_V1,
        change.user_id.to_string(),
        change,
    );
    outbox::enqueue(conn, Topic::Notifications, &event).await
}

/// The GSM 03.38 basic character set (one septet each); its extension table costs two.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                          ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// What a character costs in a text: septets in GSM-7, or None if it needs UCS-2.
fn septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The alert as a text, in at most two concatenated SMS segments: 2 × 153 septets when
/// every character is GSM-7, else 2 × 67 UTF-16 units (UCS-2). Longer is cut, ending "...".
fn sms_text(d: &Due) -> String {
    let text = format!("FitSync: {}. {}", d.title, d.body);
    let gsm = text.chars().all(|c| septets(c).is_some());
    let (budget, cost): (usize, fn(char) -> usize) = if gsm {
        (2 * 153, |c| septets(c).unwrap_or(2))
    } else {
        (2 * 67, char::len_utf16)
    };
    if text.chars().map(cost).sum::<usize>() <= budget {
        return text;
    }
    let mut used = 0;
    let mut short: String = text
        .chars()
        .take_while(|&c| {
            used += cost(c);
            used <= budget - 3
        })
        .collect();
    short.push_str("...");
    short
}

/// What the service worker shows: the alert, and where a click goes. The notification
/// id is its tag, so a push sent twice shows once.
fn push_payload(d: &Due) -> Vec<u8> {
    let mut body = d.body.clone();
    loop {
        let payload = serde_json::json!({
            "notification_id": d.notification_id,
            "kind": d.kind,
            "title": d.title,
            "body": body,
            "url": "/inbox",
        })
        .to_string()
        .into_bytes();
        if payload.len() <= crate::push::MAX_PLAINTEXT || body.is_empty() {
            return payload;
        }
        let keep = body.chars().count() * 3 / 4;
        body = body.chars().take(keep).collect();
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
fn counted(channel: &str, status: &str) {
    static COUNTER: std::sync::LazyLock<prometheus::IntCounterVec> =
        std::sync::LazyLock::new(|| {
            prometheus::register_int_counter_vec!(
                "fitsync_alert_deliveries_total",
                "Alert delivery attempts by channel and outcome (sent, pending = retried, dead)",
                &["channel", "status"]
            )
            .expect("the delivery counter registers once")
        });
    COUNTER.with_label_values(&[channel, status]).inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(title: &str, body: &str) -> Due {
        Due {
            id: Uuid::nil(),
            notification_id: Uuid::nil(),
            attempts: 1,
            claimed_at: Utc::now(),
            email: None,
            phone: None,
            subscription_id: None,
            endpoint: None,
            p256dh: None,
            auth: None,
            title: title.into(),
            body: body.into(),
            kind: "personal_record".into(),
        }
    }

    #[test]
    fn a_long_alert_fits_two_texts_and_one_push() {
        // GSM-7: 2 × 153 septets; "^" and "€" cost two.
        let d = due("New personal record", &"x".repeat(5000));
        let text = sms_text(&d);
        assert!(text.starts_with("FitSync: New personal record. xxx") && text.ends_with("..."));
        assert_eq!(text.chars().count(), 306);
        let text = sms_text(&due("Note", &"^€".repeat(400)));
        assert!(text.ends_with("..."));
        let cost: usize = text
            .chars()
            .map(|c| if "^€".contains(c) { 2 } else { 1 })
            .sum();
        assert!((303..=306).contains(&cost), "{cost}");
        // One character outside GSM-7 makes the whole text UCS-2: 2 × 67 UTF-16 units
        // (an emoji is two).
        let text = sms_text(&due("Great work", &"💪".repeat(200)));
        assert!(text.ends_with("..."));
        let units: usize = text.chars().map(char::len_utf16).sum();
        assert!((131..=134).contains(&units), "{units}");

        let d = due("New personal record", &"x".repeat(5000));
        let payload = push_payload(&d);
        assert!(payload.len() <= crate::push::MAX_PLAINTEXT);
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(v["title"], "New personal record");
        assert!(v["body"].as_str().unwrap().len() > 1000);
        let short = due(
            "Session booked",
            "Your session on Thu 3 Dec 10:00 UTC is booked.",
        );
        assert_eq!(
            sms_text(&short),
            "FitSync: Session booked. Your session on Thu 3 Dec 10:00 UTC is booked."
        );
    }

    #[test]
    fn html_is_escaped_and_both_parts_carry_the_alert() {
        let d = due("New <record>", "Squat & \"bench\"");
        let (text, html) = render(&d, "https://fitsync.example/");
        assert!(text.contains("New <record>") && text.contains("https://fitsync.example/inbox"));
        assert!(html.contains("New &lt;record&gt;"));
        assert!(html.contains("Squat &amp; &quot;bench&quot;"));
        assert!(!html.contains("<record>"));
    }
}
