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
//! numbered in its recipient's sequence and stored, with this group's offsets. The batch
//! is decided as a set (`fire_all`): a fixed handful of statements whatever its size, the
//! decisions made in memory in the triggers' order (`decide`). The commit
//! NOTIFYs `fitsync_inbox`, which wakes the recipients' open streams. A fired alert also
//! queues its external deliveries (`alert_deliveries`) in the same transaction: email to a
//! verified address (learnt from `fitsync.notification.address_verified.v1` on
//! `fitsync.notifications`), SMS to a verified number, web push to each subscribed
//! browser, as the recipient's preferences for the rule's category allow; the
//! notifications service's channel workers send them. Booked sessions get durable reminders 24 h and 1 h
//! ahead (`reminders`), kept in step with the booking in the same transaction.

pub mod reminders;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

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

/// What `fire_all` needs to know of a candidate's recipient.
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

/// Each candidate's recipient, in `cs`'s order: one statement for the whole batch.
async fn recipients(
    conn: &mut PgConnection,
    cs: &[Candidate],
) -> Result<Vec<Recipient>, sqlx::Error> {
    // Settings are looked up for tunable rules about a client only.
    let (mut users, mut rules_, mut tuned, mut clients, mut keys) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in cs {
        let client = c.client_id.filter(|_| rules::tunable(c.rule));
        users.push(c.user_id);
        rules_.push(c.rule.to_owned());
        tuned.push(client.is_some());
        clients.push(client.unwrap_or_default());
        keys.push(c.dedup_key.clone());
    }
    let rows = sqlx::query!(
        r#"select s.enabled as "enabled?", s.threshold as "threshold?", s.cooldown_minutes as "cooldown?",
                  l.time_zone as "zone?", l.units as "units?",
                  exists(select 1 from inbox i where i.user_id = c.user_id and i.dedup_key = c.dedup_key) as "seen!"
           from unnest($1::uuid[], $2::text[], $3::bool[], $4::uuid[], $5::text[])
                with ordinality as c(user_id, rule, tuned, client_id, dedup_key, n)
           left join lateral (
               select enabled, threshold, cooldown_minutes from alert_settings a
               where c.tuned and a.trainer_id = c.user_id and a.rule = c.rule
                 and a.client_id in (c.client_id, '00000000-0000-0000-0000-000000000000')
               order by a.client_id = '00000000-0000-0000-0000-000000000000' limit 1) s on true
           left join locale_preferences l on l.user_id = c.user_id
           order by c.n"#,
        &users,
        &rules_,
        &tuned,
        &clients,
        &keys
    )
    .fetch_all(conn)
    .await?;
    Ok(cs
        .iter()
        .zip(rows)
        .map(|(c, r)| {
            let (threshold, cooldown) = rules::defaults(c.rule);
            Recipient {
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
            }
        })
        .collect())
}

/// A cooldown's key: (recipient, rule, scope).
type CooldownKey = (Uuid, &'static str, String);

/// When each key last fired (`None`: never), its rows locked for the transaction. A key
/// without a row gets one (at the epoch, read as never) so that it is locked too: two
/// jobs deciding the same key wait for each other. Keys are taken in order (no deadlock).
async fn lock_cooldowns(
    conn: &mut PgConnection,
    keys: &BTreeSet<CooldownKey>,
) -> Result<HashMap<CooldownKey, Option<DateTime<Utc>>>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (mut users, mut rules_, mut scopes) = (Vec::new(), Vec::new(), Vec::new());
    for (user, rule, scope) in keys {
        users.push(*user);
        rules_.push((*rule).to_owned());
        scopes.push(scope.clone());
    }
    let rows = sqlx::query!(
        r#"insert into alert_cooldowns (user_id, rule, scope, last_at)
           select user_id, rule, scope, 'epoch'::timestamptz
           from unnest($1::uuid[], $2::text[], $3::text[]) as k(user_id, rule, scope)
           order by user_id, rule, scope
           on conflict (user_id, rule, scope) do update set last_at = alert_cooldowns.last_at
           returning user_id, rule, scope, last_at"#,
        &users,
        &rules_,
        &scopes
    )
    .fetch_all(conn)
    .await?;
    let by_key: HashMap<(Uuid, String, String), DateTime<Utc>> = rows
        .into_iter()
        .map(|r| ((r.user_id, r.rule, r.scope), r.last_at))
        .collect();
    Ok(keys
        .iter()
        .map(|key| {
            let last = by_key
                .get(&(key.0, key.1.to_owned(), key.2.clone()))
                .copied()
                .filter(|at| *at != DateTime::UNIX_EPOCH);
            (key.clone(), last)
        })
        .collect())
}

/// Passes each candidate, in order, through its recipient's settings, its deduplication
/// key and its cooldown (by the triggers' own times: the later of two fires if they are a
/// cooldown apart, whichever came first), and stores what fires in its recipient's
/// words. A few statements for the whole batch, whatever its size.
async fn fire_all(conn: &mut PgConnection, cs: &[Candidate]) -> Result<Vec<Outcome>, sqlx::Error> {
    if cs.is_empty() {
        return Ok(Vec::new());
    }
    let recipients = recipients(&mut *conn, cs).await?;
    let passes =
        |c: &Candidate, r: &Recipient| r.enabled && c.measure.passes(r.threshold) && !r.seen;
    let keys: BTreeSet<CooldownKey> = cs
        .iter()
        .zip(&recipients)
        .filter(|(c, r)| passes(c, r) && r.cooldown > 0)
        .map(|(c, _)| (c.user_id, c.rule, c.scope.clone()))
        .collect();
    let mut cooldowns = lock_cooldowns(&mut *conn, &keys).await?;
    let outcomes = decide(cs, &recipients, &mut cooldowns);
    let stored: Vec<(&Candidate, String)> = cs
        .iter()
        .zip(&recipients)
        .zip(&outcomes)
        .filter(|(_, o)| **o == Outcome::Fired)
        .map(|((c, r), _)| (c, rules::text(c, &r.locale)))
        .collect();
    save_cooldowns(&mut *conn, &cooldowns).await?;
    store(conn, &stored).await?;
    Ok(outcomes)
}

/// Each candidate's outcome, in order: off or under its threshold (suppressed), a key
/// already stored or fired earlier in the batch (duplicate), within its cooldown of the
/// key's last firing (suppressed; `cooldowns` holds every key of a candidate that got
/// this far with a cooldown), else fired — moving the key's last firing to the later of
/// the two.
fn decide(
    cs: &[Candidate],
    recipients: &[Recipient],
    cooldowns: &mut HashMap<CooldownKey, Option<DateTime<Utc>>>,
) -> Vec<Outcome> {
    let mut fired_keys: HashSet<(Uuid, &str)> = HashSet::new();
    cs.iter()
        .zip(recipients)
        .map(|(c, r)| {
            let outcome = if !r.enabled || !c.measure.passes(r.threshold) {
                Outcome::Suppressed
            } else if r.seen || fired_keys.contains(&(c.user_id, c.dedup_key.as_str())) {
                Outcome::Duplicate
            } else if r.cooldown > 0 {
                let last = cooldowns
                    .get_mut(&(c.user_id, c.rule, c.scope.clone()))
                    .expect("every cooldown key was locked");
                match *last {
                    Some(at) if (c.at - at).num_seconds().abs() < i64::from(r.cooldown) * 60 => {
                        Outcome::Suppressed
                    }
                    Some(at) => {
                        *last = Some(at.max(c.at));
                        Outcome::Fired
                    }
                    None => {
                        *last = Some(c.at);
                        Outcome::Fired
                    }
                }
            } else {
                Outcome::Fired
            };
            if outcome == Outcome::Fired {
                fired_keys.insert((c.user_id, c.dedup_key.as_str()));
            }
            outcome
        })
        .collect()
}

/// Writes back the cooldowns `fire_all` moved (locked by `lock_cooldowns`).
async fn save_cooldowns(
    conn: &mut PgConnection,
    cooldowns: &HashMap<CooldownKey, Option<DateTime<Utc>>>,
) -> Result<(), sqlx::Error> {
    let (mut users, mut rules_, mut scopes, mut ats) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((user, rule, scope), at) in cooldowns {
        if let Some(at) = at {
            users.push(*user);
            rules_.push((*rule).to_owned());
            scopes.push(scope.clone());
            ats.push(*at);
        }
    }
    if users.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "update alert_cooldowns c set last_at = k.last_at
         from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) as k(user_id, rule, scope, last_at)
         where c.user_id = k.user_id and c.rule = k.rule and c.scope = k.scope and c.last_at <> k.last_at",
        &users,
        &rules_,
        &scopes,
        &ats
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores each fired candidate (with its body), numbered in its recipient's sequence in
/// batch order (under their cursor's lock: see the migration; cursors taken in order), and
/// queues it on each external channel the recipient can be reached on and has not turned
/// off for the rule's category: email (a verified address; on unless turned off), SMS (a
/// verified number; off unless turned on), web push (each subscribed browser; on unless
/// turned off). Due now, or at the end of their quiet hours (in their time zone) if now is
/// inside them. Two statements.
async fn store(conn: &mut PgConnection, fired: &[(&Candidate, String)]) -> Result<(), sqlx::Error> {
    if fired.is_empty() {
        return Ok(());
    }
    let mut counts: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (c, _) in fired {
        *counts.entry(c.user_id).or_default() += 1;
    }
    let (cursor_users, cursor_counts): (Vec<Uuid>, Vec<i64>) =
        counts.iter().map(|(u, n)| (*u, *n)).unzip();
    let cursors = sqlx::query!(
        "insert into inbox_cursors (user_id, last_seq)
         select user_id, n from unnest($1::uuid[], $2::int8[]) as k(user_id, n) order by user_id
         on conflict (user_id) do update set last_seq = inbox_cursors.last_seq + excluded.last_seq
         returning user_id, last_seq",
        &cursor_users,
        &cursor_counts
    )
    .fetch_all(&mut *conn)
    .await?;
    // Each recipient's next number: the first of the block just taken.
    let mut next: HashMap<Uuid, i64> = cursors
        .into_iter()
        .map(|r| (r.user_id, r.last_seq - counts[&r.user_id] + 1))
        .collect();
    let mut rows = StoredRows::default();
    for (c, body) in fired {
        let seq = next.get_mut(&c.user_id).expect("a cursor per recipient");
        rows.push(c, body, *seq);
        *seq += 1;
    }
    sqlx::query!(
        r#"with stored as (
                insert into inbox (notification_id, user_id, kind, title, body, subject_id,
                                   sender_id, created_at, data, dedup_key, seq)
                select notification_id, user_id, kind, title, body, subject_id,
                       nullif(sender_id, '00000000-0000-0000-0000-000000000000'), created_at, data, dedup_key, seq
                from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[],
                            $7::uuid[], $8::timestamptz[], $9::jsonb[], $10::text[], $11::int8[])
                     as n(notification_id, user_id, kind, title, body, subject_id, sender_id,
                          created_at, data, dedup_key, seq)
                returning notification_id, user_id, kind),
              users as (select distinct user_id from stored),
              q as (select user_id, time_zone, starts, ends, (now() at time zone time_zone) as local
                    from quiet_hours where user_id in (select user_id from users) and starts <> ends),
              due as (select u.user_id, coalesce(
                        (select case
                           when starts < ends and local::time >= starts and local::time < ends
                             then (local::date + ends) at time zone time_zone
                           when starts > ends and local::time >= starts
                             then (local::date + 1 + ends) at time zone time_zone
                           when starts > ends and local::time < ends
                             then (local::date + ends) at time zone time_zone
                         end from q where q.user_id = u.user_id),
                        now()) as at
                      from users u),
              reach as (select user_id, 'email' as channel, '' as target, true as default_on
                        from recipients where user_id in (select user_id from users)
                        union all
                        select user_id, 'sms', '', false
                        from phone_numbers
                        where user_id in (select user_id from users) and verified_at is not null
                        union all
                        select user_id, 'push', id::text, true
                        from push_subscriptions where user_id in (select user_id from users)),
              categories as (select * from unnest($12::text[], $13::text[]) as k(kind, category))
           insert into alert_deliveries (id, notification_id, user_id, channel, target, status, due_at)
           select gen_random_uuid(), s.notification_id, s.user_id, r.channel, r.target, 'pending', d.at
           from stored s
           join categories k on k.kind = s.kind
           join reach r on r.user_id = s.user_id
           join due d on d.user_id = s.user_id
           where coalesce((select enabled from channel_preferences p
                           where p.user_id = s.user_id and p.category = k.category and p.channel = r.channel),
                          r.default_on)
           on conflict (notification_id, channel, target) do nothing"#,
        &rows.ids,
        &rows.users,
        &rows.kinds,
        &rows.titles,
        &rows.bodies,
        &rows.subjects,
        &rows.senders,
        &rows.ats,
        &rows.data,
        &rows.keys,
        &rows.seqs,
        &rows.category_kinds,
        &rows.categories
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The columns of the inbox rows `store` writes, and each kind's category.
#[derive(Default)]
struct StoredRows {
    ids: Vec<Uuid>,
    users: Vec<Uuid>,
    kinds: Vec<String>,
    titles: Vec<String>,
    bodies: Vec<String>,
    subjects: Vec<Uuid>,
    /// The nil UUID for none.
    senders: Vec<Uuid>,
    ats: Vec<DateTime<Utc>>,
    data: Vec<serde_json::Value>,
    keys: Vec<String>,
    seqs: Vec<i64>,
    category_kinds: Vec<String>,
    categories: Vec<String>,
}

impl StoredRows {
    fn push(&mut self, c: &Candidate, body: &str, seq: i64) {
        self.ids
            .push(c.notification_id.unwrap_or_else(Uuid::now_v7));
        self.users.push(c.user_id);
        self.kinds.push(c.rule.to_owned());
        self.titles.push(c.title.clone());
        self.bodies.push(body.to_owned());
        self.subjects.push(c.subject_id);
        self.senders.push(c.sender_id.unwrap_or_default());
        self.ats.push(c.at);
        self.data.push(c.data.clone());
        self.keys.push(c.dedup_key.clone());
        self.seqs.push(seq);
        if !self.category_kinds.iter().any(|k| k == c.rule) {
            self.category_kinds.push(c.rule.to_owned());
            self.categories.push(rules::category(c.rule).to_owned());
        }
    }
}

/// NOTIFYs each recipient's open streams (delivered on commit). One statement.
async fn wake(conn: &mut PgConnection, users: &BTreeSet<Uuid>) -> Result<(), sqlx::Error> {
    if users.is_empty() {
        return Ok(());
    }
    let users: Vec<String> = users.iter().map(Uuid::to_string).collect();
    sqlx::query!(
        "select pg_notify($1, u) from unnest($2::text[]) as u",
        CHANNEL,
        &users
    )
    .execute(conn)
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
        let mut all = Vec::new();
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
                    // Known before any alert of the batch is decided: an alert earlier in
                    // the batch than the address may be emailed to it too.
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
                    all.extend(candidates);
                }
                Err(reason) => rejected.push((m, reason)),
            }
        }
        let mut woken = BTreeSet::new();
        for (c, outcome) in all.iter().zip(fire_all(&mut tx, &all).await?) {
            match outcome {
                Outcome::Fired => {
                    stats.applied += 1;
                    fired(c.rule);
                    woken.insert(c.user_id);
                }
                Outcome::Duplicate => stats.duplicates += 1,
                Outcome::Suppressed => stats.skipped += 1,
            }
        }
        if !rejected.is_empty() {
            self.consumer.dead_letters.send(&rejected).await?;
            stats.dead_lettered = rejected.len() as u64;
        }
        wake(&mut tx, &woken).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn candidate(user: Uuid, key: &str, scope: &str, at: DateTime<Utc>) -> Candidate {
        Candidate {
            user_id: user,
            rule: "personal_record",
            dedup_key: key.to_owned(),
            scope: scope.to_owned(),
            client_id: None,
            measure: rules::Measure::Above(2.0),
            at,
            title: String::new(),
            body: String::new(),
            subject_id: Uuid::nil(),
            sender_id: None,
            data: serde_json::Value::Null,
            notification_id: None,
        }
    }

    fn recipient(cooldown_min: i32, seen: bool) -> Recipient {
        Recipient {
            enabled: true,
            threshold: Some(1.5),
            cooldown: cooldown_min,
            locale: rules::Locale::default(),
            seen,
        }
    }

    #[test]
    fn a_batch_is_decided_in_order_as_if_one_candidate_at_a_time() {
        let (ana, ben) = (Uuid::now_v7(), Uuid::now_v7());
        let t: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
        let cs = [
            candidate(ana, "k1", "squat", t),
            // The same key again in the batch: a duplicate of the first.
            candidate(ana, "k1", "squat", t),
            // Within the hour's cooldown of the first: held back.
            candidate(ana, "k2", "squat", t + Duration::minutes(59)),
            // An hour after the first: fires, and moves the cooldown.
            candidate(ana, "k3", "squat", t + Duration::minutes(60)),
            // 121 min before the last firing (t + 60 min), a trigger that arrived late:
            // fires; the last firing stays the later one.
            candidate(ana, "k4", "squat", t - Duration::minutes(61)),
            // Within the cooldown of the moved time: held back.
            candidate(ana, "k5", "squat", t + Duration::minutes(100)),
            // Another scope has a cooldown of its own; one stored before: duplicate.
            candidate(ana, "k6", "bench", t),
            // Another recipient, no cooldown: both fire.
            candidate(ben, "k7", "squat", t),
            candidate(ben, "k8", "squat", t),
        ];
        let rs = [
            recipient(60, false),
            recipient(60, false),
            recipient(60, false),
            recipient(60, false),
            recipient(60, false),
            recipient(60, false),
            recipient(60, true),
            recipient(0, false),
            recipient(0, false),
        ];
        // ana's squat fired 30 days ago; her bench never.
        let mut cooldowns = HashMap::from([
            (
                (ana, "personal_record", "squat".to_owned()),
                Some(t - Duration::days(30)),
            ),
            ((ana, "personal_record", "bench".to_owned()), None),
        ]);
        use Outcome::*;
        assert_eq!(
            decide(&cs, &rs, &mut cooldowns),
            [Fired, Duplicate, Suppressed, Fired, Fired, Suppressed, Duplicate, Fired, Fired]
        );
        assert_eq!(
            cooldowns[&(ana, "personal_record", "squat".to_owned())],
            Some(t + Duration::minutes(60)),
            "the later firing"
        );
        assert_eq!(
            cooldowns[&(ana, "personal_record", "bench".to_owned())],
            None
        );
    }

    #[test]
    fn an_alert_off_or_under_its_threshold_is_suppressed_before_any_key_is_read() {
        let ana = Uuid::now_v7();
        let t: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
        let cs = [candidate(ana, "k1", "s", t), candidate(ana, "k2", "s", t)];
        let off = Recipient {
            enabled: false,
            ..recipient(0, false)
        };
        let above = Recipient {
            threshold: Some(2.5),
            ..recipient(0, true)
        };
        // Neither key has a cooldown row: decide must not look one up.
        assert_eq!(
            decide(&cs, &[off, above], &mut HashMap::new()),
            [Outcome::Suppressed, Outcome::Suppressed]
        );
    }
}
