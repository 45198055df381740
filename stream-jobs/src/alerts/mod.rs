//! The alerts job: triggers on the change stream → alerts in the recipients' in-app
//! inboxes (notificationdb), exactly once.
//!
//! It reads the analytics job's signals (`fitsync.alerts`: personal records, workload
//! spikes; it never recomputes an analytic), the schedule's booking changes and the
//! trainers' comments on workouts. Each trigger names its candidate alerts
//! (`rules::candidates`); per micro-batch, in one transaction on notificationdb, each
//! candidate passes the recipient's settings for the rule (a trainer's per client, else
//! their default for all clients, else the rule's), its deduplication key (unique per
//! recipient: a replayed or re-published trigger adds nothing), and its cooldown (by the
//! triggers' own times, not by when they are processed); what passes is
//! numbered in its recipient's sequence and stored, with this group's offsets. The commit
//! NOTIFYs `fitsync_inbox`, which wakes the recipients' open streams. A fired alert also
//! queues its external deliveries (`alert_deliveries`) in the same transaction: email to a
//! verified address (learnt from `fitsync.notification.address_verified.v1` on
//! `fitsync.notifications`), SMS to a verified number, web push to each subscribed
//! browser, as the recipient's preferences for the rule's category allow; the
//! notifications service's channel workers send them. Booked sessions get durable reminders 24 h and 1 h
//! ahead (`reminders`), kept in step with the booking in the same transaction.

pub mod reminders;
pub mod rules;

use std::collections::{BTreeSet, HashMap};

use fitsync_events::Topic;
use fitsync_platform::{
    config::{JobSettings, KafkaSettings},
    fault,
    stream::{
        offsets::{self, PartitionKey},
        runner::{self, BatchJob},
        source::{self, KafkaSource},
        stats::JobStats,
        ConsumerSpec,
    },
};
use rdkafka::{message::OwnedMessage, Message};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use rules::Candidate;

pub const JOB: &str = "alerts";

/// The channel a committed alert NOTIFYs with its recipient's id.
pub const CHANNEL: &str = "fitsync_inbox";

pub struct AlertsJob {
    pool: PgPool,
    consumer: ConsumerSpec,
}

/// What became of a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Fired,
    Duplicate,
    /// Off, under its threshold or within its cooldown.
    Suppressed,
}

impl AlertsJob {
    pub fn new(pool: PgPool, kafka: KafkaSettings, settings: JobSettings) -> anyhow::Result<Self> {
        Ok(Self {
            consumer: ConsumerSpec::new(
                &kafka,
                &settings,
                JOB,
                &[
                    Topic::Alerts,
                    Topic::Schedule,
                    Topic::Training,
                    Topic::Notifications,
                ],
            )?,
            pool,
        })
    }

    /// Consumes until `shutdown`, firing due reminders beside.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let timers = shutdown.child_token();
        let reminders = tokio::spawn(reminders::run(self.pool.clone(), timers.clone()));
        let result = runner::run(&self, &shutdown).await;
        timers.cancel();
        let _ = reminders.await;
        runner::drop_blocking(JOB, self).await;
        result
    }
}

/// What `fire` needs to know of a candidate's recipient, read in one statement.
struct Recipient {
    /// Their setting for the rule about this client (a trainer's, for a tunable rule):
    /// on, threshold, cooldown in minutes; the rule's defaults where unset.
    enabled: bool,
    threshold: Option<f64>,
    cooldown: i32,
    /// How they read times and weights.
    locale: rules::Locale,
    /// An alert with the candidate's deduplication key is already theirs.
    seen: bool,
}

async fn recipient(conn: &mut PgConnection, c: &Candidate) -> Result<Recipient, sqlx::Error> {
    let (threshold, cooldown) = rules::defaults(c.rule);
    // Settings are looked up for tunable rules about a client only.
    let client = c.client_id.filter(|_| rules::tunable(c.rule));
    let r = sqlx::query!(
        r#"select s.enabled as "enabled?", s.threshold as "threshold?", s.cooldown_minutes as "cooldown?",
                  l.time_zone as "zone?", l.units as "units?",
                  exists(select 1 from inbox where user_id = $1 and dedup_key = $4) as "seen!"
           from (select 1) as one
           left join lateral (
               select enabled, threshold, cooldown_minutes from alert_settings
               where $3::uuid is not null and trainer_id = $1 and rule = $2
                 and client_id in ($3, '00000000-0000-0000-0000-000000000000')
               order by client_id = '00000000-0000-0000-0000-000000000000' limit 1) s on true
           left join locale_preferences l on l.user_id = $1"#,
        c.user_id,
        c.rule,
        client,
        &c.dedup_key
    )
    .fetch_one(conn)
    .await?;
    Ok(Recipient {
        enabled: r.enabled.unwrap_or(true),
        threshold: r.threshold.or(threshold),
        cooldown: r.cooldown.unwrap_or(cooldown),
        locale: match (r.zone, r.units) {
            (Some(zone), Some(units)) => rules::Locale {
                zone: zone.parse().unwrap_or(chrono_tz::UTC),
                imperial: units == "imperial",
            },
            _ => rules::Locale::default(),
        },
        seen: r.seen,
    })
}

/// Passes `c` through its recipient's settings, its deduplication key and its cooldown,
/// and stores it, in their locale's words, if it fires.
async fn fire(conn: &mut PgConnection, c: &Candidate) -> Result<Outcome, sqlx::Error> {
    let r = recipient(&mut *conn, c).await?;
    if !r.enabled || !c.measure.passes(r.threshold) {
        return Ok(Outcome::Suppressed);
    }
    if r.seen {
        return Ok(Outcome::Duplicate);
    }
    if r.cooldown > 0 {
        let open = sqlx::query_scalar!(
            "insert into alert_cooldowns (user_id, rule, scope, last_at) values ($1, $2, $3, $4)
             on conflict (user_id, rule, scope) do update
             set last_at = greatest(alert_cooldowns.last_at, excluded.last_at)
             where abs(extract(epoch from excluded.last_at - alert_cooldowns.last_at)) >= $5::int * 60
             returning 1",
            c.user_id,
            c.rule,
            &c.scope,
            c.at,
            r.cooldown
        )
        .fetch_optional(&mut *conn)
        .await?;
        if open.is_none() {
            return Ok(Outcome::Suppressed);
        }
    }
    store(conn, c, &rules::text(c, &r.locale)).await?;
    Ok(Outcome::Fired)
}

/// Stores `c` (with `body`), numbered in its recipient's sequence (under their cursor's
/// lock: see the migration), and queues it on each external channel the recipient can be
/// reached on and has not turned off for the rule's category: email (a verified address;
/// on unless turned off), SMS (a verified number; off unless turned on), web push (each
/// subscribed browser; on unless turned off). Due now, or at the end of their quiet hours
/// (in their time zone) if now is inside them. One statement.
async fn store(conn: &mut PgConnection, c: &Candidate, body: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"with cur as (insert into inbox_cursors (user_id, last_seq) values ($2, 1)
                           on conflict (user_id) do update set last_seq = inbox_cursors.last_seq + 1
                           returning last_seq),
                stored as (insert into inbox (notification_id, user_id, kind, title, body, subject_id,
                                              sender_id, created_at, data, dedup_key, seq)
                           select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, cur.last_seq from cur
                           returning notification_id),
                q as (select time_zone, starts, ends, (now() at time zone time_zone) as local
                      from quiet_hours where user_id = $2 and starts <> ends),
                due as (select coalesce(
                          (select case
                             when starts < ends and local::time >= starts and local::time < ends
                               then (local::date + ends) at time zone time_zone
                             when starts > ends and local::time >= starts
                               then (local::date + 1 + ends) at time zone time_zone
                             when starts > ends and local::time < ends
                               then (local::date + ends) at time zone time_zone
                           end from q),
                          now()) as at),
                reach as (select 'email' as channel, '' as target, true as default_on
                          from recipients where user_id = $2
                          union all
                          select 'sms', '', false
                          from phone_numbers where user_id = $2 and verified_at is not null
                          union all
                          select 'push', id::text, true
                          from push_subscriptions where user_id = $2)
           insert into alert_deliveries (id, notification_id, user_id, channel, target, status, due_at)
           select gen_random_uuid(), stored.notification_id, $2, reach.channel, reach.target, 'pending', due.at
           from stored, reach, due
           where coalesce((select enabled from channel_preferences p
                           where p.user_id = $2 and p.category = $11 and p.channel = reach.channel),
                          reach.default_on)
           on conflict (notification_id, channel, target) do nothing"#,
        c.notification_id.unwrap_or_else(Uuid::now_v7),
        c.user_id,
        c.rule,
        &c.title,
        body,
        c.subject_id,
        c.sender_id,
        c.at,
        &c.data,
        &c.dedup_key,
        rules::category(c.rule)
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Keeps the newest verified address of each user.
async fn remember_address(
    conn: &mut PgConnection,
    a: &fitsync_events::AddressVerified,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into recipients (user_id, email, verified_at) values ($1, $2, $3)
         on conflict (user_id) do update set email = excluded.email, verified_at = excluded.verified_at
         where recipients.verified_at <= excluded.verified_at",
        a.user_id,
        &a.email,
        a.verified_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

impl BatchJob for AlertsJob {
    const NAME: &'static str = JOB;

    fn spec(&self) -> &ConsumerSpec {
        &self.consumer
    }

    async fn subscribe(&self) -> anyhow::Result<KafkaSource> {
        self.consumer
            .subscribe(Some(offsets::load(&self.pool, &self.consumer.group).await?))
    }

    #[tracing::instrument(skip_all, fields(job = JOB, messages = batch.len()), err)]
    async fn process(&self, batch: &[OwnedMessage]) -> anyhow::Result<JobStats> {
        let mut stats = JobStats::default();
        let mut tx = self.pool.begin().await?;
        let applied = offsets::lock(&mut tx, &self.consumer.group, &self.consumer.topics).await?;
        let mut rejected = Vec::new();
        let mut woken = BTreeSet::new();
        for m in batch {
            let from = applied
                .get(&(m.topic().to_owned(), m.partition()))
                .copied()
                .unwrap_or(0);
            if m.offset() < from {
                stats.duplicates += 1;
                continue;
            }
            match rules::decode(m.payload()) {
                Ok(rules::Trigger::Address(a)) => {
                    remember_address(&mut tx, &a).await?;
                    stats.applied += 1;
                }
                Ok(trigger) => {
                    if let rules::Trigger::Booking(b, time) = &trigger {
                        reminders::keep(&mut tx, b, *time).await?;
                    }
                    let candidates = rules::candidates(&trigger);
                    if candidates.is_empty() {
                        stats.skipped += 1;
                    }
                    for c in &candidates {
                        match fire(&mut tx, c).await? {
                            Outcome::Fired => {
                                stats.applied += 1;
                                fired(c.rule);
                                woken.insert(c.user_id);
                            }
                            Outcome::Duplicate => stats.duplicates += 1,
                            Outcome::Suppressed => stats.skipped += 1,
                        }
                    }
                }
                Err(reason) => rejected.push((m, reason)),
            }
        }
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
            stats.dead_lettered = rejected.len() as u64;
        }
        for user in woken {
            sqlx::query!("select pg_notify($1, $2)", CHANNEL, user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let next: HashMap<PartitionKey, i64> = source::next_offsets(batch);
        offsets::save(&mut tx, &self.consumer.group, &next).await?;
        fault::point("alerts.before_commit");
        tx.commit().await?;
        Ok(stats)
    }
}

/// Counts a fired alert by rule (`fitsync_alerts_fired_total`).
fn fired(rule: &str) {
    static FIRED: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
        prometheus::register_int_counter_vec!(
            "fitsync_alerts_fired_total",
            "Alerts stored in an inbox, by rule",
            &["rule"]
        )
        .expect("the alerts counter registers once")
    });
    FIRED.with_label_values(&[rule]).inc();
}
