//! The trigger rules: a decoded event → the alerts it may fire (`Candidate`s), before
//! anyone's settings, cooldowns or earlier alerts are looked at. Pure, so each rule is
//! tested without a server.
//!
//! | rule | from | to | deduplicated by | cooldown scope (default) |
//! |---|---|---|---|---|
//! | `personal_record` | `fitsync.progress.personal_record.v1`, counted within `NEWS_WINDOW` of the set | the client's trainers | set, exercise | client + exercise (60 min) |
//! | `workload_spike` | `fitsync.progress.workload_spike.v1`, ratio above the threshold (1.5), likewise | the client's trainers | client, day | client (7 days) |
//! | `no_show` | a booking marked `no_show` | its trainer | booking | client (none) |
//! | `weight_change` | `fitsync.progress.weight_change.v1`, a weigh-in within `NEWS_WINDOW` whose trend moved more than the threshold (1 % of body weight) over a week, either way (the text says whether towards the goal) | the client's trainers | client, day | client (7 days) |
//! | `missed_workout` | `fitsync.progress.workout_missed.v1` (a planned workout's local day ended undone, signalled within `MISSED_NEWS_DAYS`) | the client's trainers | planned workout | client (none) |
//! | `adherence_drop` | the same signal, when the client's adherence over the seven days to that day fell below the threshold (70 %) from at or above it over the seven days to the day before | the client's trainers | client, day | client (7 days) |
//! | `booking_confirmed` | a booking `booked` (of a session not yet begun, as for the next three) | its client and trainer | booking, revision | booking (none) |
//! | `booking_cancelled` | `cancelled`, `late_cancelled` | its client and trainer | booking, revision | booking (none) |
//! | `booking_rescheduled` | `rescheduled` | its client and trainer | booking, revision | booking (none) |
//! | `waitlist_promoted` | `promoted` | its client | booking, revision | booking (none) |
//! | `plateau` | `fitsync.progress.plateau.v1` (judged once per summarised week) | the client's trainers | client, exercise, week | client + exercise (28 days) |
//! | `weekly_summary` | `fitsync.progress.weekly_summary.v1` (a coached client's last week, from Monday 06:00 in their zone) | the client's trainers and the client | client, week | none |
//! | `workout_comment` | `fitsync.workout.comment_added.v1` | the client | comment | comment (none) |
//! | `session_reminder` | a due timer (`reminders`): 24 h and 1 h before a booked session | its client | booking, lead, start | booking (none) |

use chrono::{DateTime, Datelike, Utc};
use fitsync_events::{
    AddressVerified, BookingChanged, CloudEvent, CommentAdded, PersonalRecord, Plateau,
    WeeklySummary, WeightChange, WorkloadSpike, WorkoutMissed, ADDRESS_VERIFIED_V1,
    BOOKING_CHANGED_V1, COMMENT_ADDED_V1, PERSONAL_RECORD_V1, PLATEAU_V1, WEEKLY_SUMMARY_V1,
    WEIGHT_CHANGE_V1, WORKLOAD_SPIKE_V1, WORKOUT_MISSED_V1,
};
use serde_json::json;
use uuid::Uuid;

/// Whether a trainer tunes `rule` per client (`fitsync_events::TUNABLE_RULES`).
pub fn tunable(rule: &str) -> bool {
    fitsync_events::TUNABLE_RULES
        .iter()
        .any(|(r, _)| *r == rule)
}

/// The category a user's channel preferences name a rule by.
pub fn category(rule: &str) -> &'static str {
    match rule {
        "personal_record" | "workload_spike" | "weight_change" | "weekly_summary" | "plateau" => {
            "progress"
        }
        "no_show" | "missed_workout" | "adherence_drop" => "attendance",
        "workout_comment" => "feedback",
        "session_reminder" => "reminders",
        _ => "bookings",
    }
}

/// A rule's defaults: on, its threshold (if it has one) and its cooldown in minutes.
pub fn defaults(rule: &str) -> (Option<f64>, i32) {
    match rule {
        "personal_record" => (None, 60),
        "workload_spike" => (Some(fitsync_analytics::ACWR_FLAG), 7 * 24 * 60),
        "adherence_drop" => (Some(ADHERENCE_FLOOR), 7 * 24 * 60),
        "weight_change" => (Some(WEIGHT_CHANGE_FLAG), 7 * 24 * 60),
        "plateau" => (None, 28 * 24 * 60),
        _ => (None, 0),
    }
}

/// The 7-day adherence below which a drop alerts by default (the at-risk score's
/// "low adherence").
pub const ADHERENCE_FLOOR: f64 = 0.7;

/// The weekly change of the weight trend, in percent of body weight either way, above
/// which it alerts by default (about the fastest loss commonly advised).
pub const WEIGHT_CHANGE_FLAG: f64 = 1.0;

/// What a rule's threshold is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// The rule has no threshold.
    None,
    /// Fires above the threshold.
    Above(f64),
    /// Fires when it fell below the threshold from at or above it.
    FellBelow { now: f64, before: f64 },
}

impl Measure {
    /// Whether the alert passes `threshold` (none: it passes).
    pub fn passes(self, threshold: Option<f64>) -> bool {
        match (self, threshold) {
            (_, None) | (Measure::None, _) => true,
            (Measure::Above(m), Some(t)) => m > t,
            (Measure::FellBelow { now, before }, Some(t)) => now < t && before >= t,
        }
    }
}

/// An alert one event may fire for one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub user_id: Uuid,
    pub rule: &'static str,
    /// Unique per recipient: the same trigger seen again fires nothing.
    pub dedup_key: String,
    /// At most one alert per (recipient, rule, scope) within the cooldown.
    pub scope: String,
    /// The client a trainer's settings for this rule are looked up by.
    pub client_id: Option<Uuid>,
    /// What the rule's threshold is compared with.
    pub measure: Measure,
    /// The trigger's time (cooldowns compare these, not the time of processing).
    pub at: DateTime<Utc>,
    pub title: String,
    pub body: String,
    pub subject_id: Uuid,
    pub sender_id: Option<Uuid>,
    pub data: serde_json::Value,
    /// The in-app notification's id where the trigger has one (a comment's).
    pub notification_id: Option<Uuid>,
}

/// What a message is to this job.
#[derive(Debug)]
pub enum Trigger {
    /// With the time the analytics job derived it.
    Record(PersonalRecord, DateTime<Utc>),
    Workload(WorkloadSpike, DateTime<Utc>),
    Missed(WorkoutMissed),
    /// With the time the analytics job judged the week (after it ended in the client's
    /// zone).
    Summary(WeeklySummary, DateTime<Utc>),
    Plateau(Plateau, DateTime<Utc>),
    /// With the time the analytics job derived it.
    Weight(WeightChange, DateTime<Utc>),
    Booking(BookingChanged, DateTime<Utc>),
    Comment(CommentAdded),
    /// Where a user's alert email may go (no alert of its own).
    Address(AddressVerified),
    /// A valid event no rule reads.
    Other,
}

/// Decodes and checks a message's payload; `Err` is the reason it is dead-lettered.
pub fn decode(payload: Option<&[u8]>) -> Result<Trigger, String> {
    let event =
        CloudEvent::from_slice(payload.ok_or("empty payload")?).map_err(|e| e.to_string())?;
    let subject_is = |id: Uuid, what: &str| {
        if event.subject == id.to_string() {
            Ok(())
        } else {
            Err(format!("subject is not the {what}"))
        }
    };
    match event.event_type.as_str() {
        PERSONAL_RECORD_V1 => {
            let r: PersonalRecord = event
                .payload(PERSONAL_RECORD_V1)
                .map_err(|e| e.to_string())?;
            subject_is(r.client_id, "record's client")?;
            if !(r.e1rm_kg.is_finite() && r.previous_kg.is_finite() && r.e1rm_kg > r.previous_kg)
                || r.exercise.is_empty()
            {
                return Err(format!(
                    "invalid {PERSONAL_RECORD_V1}: e1rm_kg must exceed previous_kg, exercise named"
                ));
            }
            Ok(Trigger::Record(r, event.time))
        }
        WORKLOAD_SPIKE_V1 => {
            let w: WorkloadSpike = event
                .payload(WORKLOAD_SPIKE_V1)
                .map_err(|e| e.to_string())?;
            subject_is(w.client_id, "spike's client")?;
            if !(w.ratio.is_finite() && w.ratio > 0.0) {
                return Err(format!(
                    "invalid {WORKLOAD_SPIKE_V1}: ratio must be positive"
                ));
            }
            Ok(Trigger::Workload(w, event.time))
        }
        PLATEAU_V1 => {
            let p: Plateau = event.payload(PLATEAU_V1).map_err(|e| e.to_string())?;
            subject_is(p.client_id, "plateau's client")?;
            if p.exercise.is_empty()
                || p.week_start.weekday() != chrono::Weekday::Mon
                || !(p.slope_kg_per_week.is_finite() && p.slope_kg_per_week <= 0.0)
            {
                return Err(format!(
                    "invalid {PLATEAU_V1}: an exercise, a Monday, a slope of 0 or below"
                ));
            }
            Ok(Trigger::Plateau(p, event.time))
        }
        WEEKLY_SUMMARY_V1 => {
            let w: WeeklySummary = event
                .payload(WEEKLY_SUMMARY_V1)
                .map_err(|e| e.to_string())?;
            subject_is(w.client_id, "summary's client")?;
            if w.week_start.weekday() != chrono::Weekday::Mon
                || !(0..=7).contains(&w.training_days)
                || w.sets < 0
                || w.records < 0
                || w.done < 0
                || w.planned < 0
                || !(w.volume_kg.is_finite() && w.volume_kg >= 0.0)
            {
                return Err(format!(
                    "invalid {WEEKLY_SUMMARY_V1}: a Monday, counts from 0, a finite volume"
                ));
            }
            Ok(Trigger::Summary(w, event.time))
        }
        WEIGHT_CHANGE_V1 => {
            let w: WeightChange = event.payload(WEIGHT_CHANGE_V1).map_err(|e| e.to_string())?;
            subject_is(w.client_id, "weight's client")?;
            if !(w.trend_kg.is_finite()
                && w.trend_kg > 0.0
                && w.weekly_change_kg.is_finite()
                && w.weekly_change_percent.is_finite()
                && w.goal_kg.is_none_or(|g| g.is_finite() && g > 0.0))
            {
                return Err(format!(
                    "invalid {WEIGHT_CHANGE_V1}: finite weights, a positive trend"
                ));
            }
            Ok(Trigger::Weight(w, event.time))
        }
        WORKOUT_MISSED_V1 => {
            let m: WorkoutMissed = event
                .payload(WORKOUT_MISSED_V1)
                .map_err(|e| e.to_string())?;
            subject_is(m.client_id, "missed workout's client")?;
            let share = |a: Option<f64>| a.is_none_or(|a| (0.0..=1.0).contains(&a));
            if !(share(m.adherence_7) && share(m.previous_adherence_7)) {
                return Err(format!(
                    "invalid {WORKOUT_MISSED_V1}: adherence from 0 to 1"
                ));
            }
            Ok(Trigger::Missed(m))
        }
        BOOKING_CHANGED_V1 => {
            let b: BookingChanged = event
                .payload(BOOKING_CHANGED_V1)
                .map_err(|e| e.to_string())?;
            subject_is(b.client_id, "booking's client")?;
            Ok(Trigger::Booking(b, event.time))
        }
        COMMENT_ADDED_V1 => {
            let c: CommentAdded = event.payload(COMMENT_ADDED_V1).map_err(|e| e.to_string())?;
            subject_is(c.client_id, "comment's client")?;
            if c.body.trim().is_empty() || c.body.chars().count() > 2000 {
                return Err(format!(
                    "invalid {COMMENT_ADDED_V1}: body of 1 to 2000 characters"
                ));
            }
            Ok(Trigger::Comment(c))
        }
        ADDRESS_VERIFIED_V1 => {
            let a: AddressVerified = event
                .payload(ADDRESS_VERIFIED_V1)
                .map_err(|e| e.to_string())?;
            subject_is(a.user_id, "address's user")?;
            if !a.email.contains('@') || a.email.len() > 254 {
                return Err(format!("invalid {ADDRESS_VERIFIED_V1}: not an address"));
            }
            Ok(Trigger::Address(a))
        }
        _ => Ok(Trigger::Other),
    }
}

/// How old training may be when the analytics job first counts it and still be news: a
/// log imported or entered weeks late signals records and spikes, but alerts nobody.
/// (Compared with the signal's own time, so a replay decides the same.)
pub const NEWS_WINDOW: chrono::Duration = chrono::Duration::hours(48);

/// The alerts `trigger` may fire, their text as `Locale::default()` reads it.
pub fn candidates(trigger: &Trigger) -> Vec<Candidate> {
    let mut out = facts(trigger);
    for c in &mut out {
        c.body = text(c, &Locale::default());
    }
    out
}

/// The alerts `trigger` may fire, without their text (but a comment's own words).
fn facts(trigger: &Trigger) -> Vec<Candidate> {
    match trigger {
        Trigger::Record(r, seen) if *seen - r.achieved_at > NEWS_WINDOW => Vec::new(),
        Trigger::Record(r, _) => r
            .trainers
            .iter()
            .map(|t| Candidate {
                user_id: *t,
                rule: "personal_record",
                dedup_key: format!("pr:{}:{}", r.set_id, r.exercise),
                scope: format!("{}:{}", r.client_id, r.exercise),
                client_id: Some(r.client_id),
                measure: Measure::None,
                at: r.achieved_at,
                title: "New personal record".to_owned(),
                body: String::new(),
                subject_id: r.client_id,
                sender_id: None,
                data: json!({"client_id": r.client_id, "exercise": r.exercise, "e1rm_kg": r.e1rm_kg,
                             "previous_kg": r.previous_kg, "set_id": r.set_id}),
                notification_id: None,
            })
            .collect(),
        Trigger::Workload(w, seen) => {
            // Noon of the (local) day: within half a day of any zone's day.
            let at = w.day.and_time(chrono::NaiveTime::MIN).and_utc() + chrono::Duration::hours(12);
            if *seen - at > NEWS_WINDOW + chrono::Duration::hours(12) {
                return Vec::new();
            }
            w.trainers
                .iter()
                .map(|t| Candidate {
                    user_id: *t,
                    rule: "workload_spike",
                    dedup_key: format!("workload:{}:{}", w.client_id, w.day),
                    scope: w.client_id.to_string(),
                    client_id: Some(w.client_id),
                    measure: Measure::Above(w.ratio),
                    at,
                    title: "Workload spike".to_owned(),
                    body: String::new(),
                    subject_id: w.client_id,
                    sender_id: None,
                    data: json!({"client_id": w.client_id, "day": w.day, "ratio": w.ratio,
                                 "acute_kg": w.acute_kg, "chronic_kg": w.chronic_kg}),
                    notification_id: None,
                })
                .collect()
        }
        Trigger::Missed(m) => missed(m),
        Trigger::Summary(w, at) => summary(w, *at),
        Trigger::Plateau(p, at) => p
            .trainers
            .iter()
            .map(|t| Candidate {
                user_id: *t,
                rule: "plateau",
                dedup_key: format!("plateau:{}:{}:{}", p.client_id, p.exercise, p.week_start),
                scope: format!("{}:{}", p.client_id, p.exercise),
                client_id: Some(p.client_id),
                measure: Measure::None,
                at: *at,
                title: "Plateau".to_owned(),
                body: String::new(),
                subject_id: p.client_id,
                sender_id: None,
                data: json!({"client_id": p.client_id, "exercise": p.exercise,
                             "week_start": p.week_start, "weeks": p.weeks,
                             "slope_kg_per_week": p.slope_kg_per_week}),
                notification_id: None,
            })
            .collect(),
        Trigger::Weight(w, seen) if *seen - w.measured_at > NEWS_WINDOW => Vec::new(),
        Trigger::Weight(w, _) => w
            .trainers
            .iter()
            .map(|t| Candidate {
                user_id: *t,
                rule: "weight_change",
                dedup_key: format!("weight:{}:{}", w.client_id, w.day),
                scope: w.client_id.to_string(),
                client_id: Some(w.client_id),
                measure: Measure::Above(w.weekly_change_percent.abs()),
                at: w.measured_at,
                title: "Rapid weight change".to_owned(),
                body: String::new(),
                subject_id: w.client_id,
                sender_id: None,
                data: json!({"client_id": w.client_id, "day": w.day, "trend_kg": w.trend_kg,
                             "weekly_change_kg": w.weekly_change_kg,
                             "weekly_change_percent": w.weekly_change_percent,
                             "goal_kg": w.goal_kg, "toward_goal": w.toward_goal}),
                notification_id: None,
            })
            .collect(),
        Trigger::Booking(b, time) => booking(b, *time),
        Trigger::Comment(c) => vec![Candidate {
            user_id: c.client_id,
            rule: "workout_comment",
            dedup_key: format!("comment:{}", c.comment_id),
            scope: c.comment_id.to_string(),
            client_id: None,
            measure: Measure::None,
            at: c.created_at,
            title: "New feedback on your workout".to_owned(),
            body: c.body.clone(),
            subject_id: c.workout_id,
            sender_id: Some(c.author_id),
            data: json!({"workout_id": c.workout_id, "comment_id": c.comment_id}),
            notification_id: Some(c.comment_id),
        }],
        Trigger::Address(_) | Trigger::Other => Vec::new(),
    }
}

/// A client's week goes to each trainer (subject to their settings for the client) and
/// to the client, dated `at`, when the analytics job summarised it.
fn summary(w: &WeeklySummary, at: DateTime<Utc>) -> Vec<Candidate> {
    let data = json!({"client_id": w.client_id, "week_start": w.week_start,
                      "training_days": w.training_days, "sets": w.sets, "volume_kg": w.volume_kg,
                      "records": w.records, "planned": w.planned, "done": w.done});
    w.trainers
        .iter()
        .map(|t| (*t, Some(w.client_id)))
        .chain([(w.client_id, None)])
        .map(|(user_id, client_id)| Candidate {
            user_id,
            rule: "weekly_summary",
            dedup_key: format!("summary:{}:{}", w.client_id, w.week_start),
            scope: w.client_id.to_string(),
            client_id,
            measure: Measure::None,
            at,
            title: "Weekly summary".to_owned(),
            body: String::new(),
            subject_id: w.client_id,
            sender_id: None,
            data: data.clone(),
            notification_id: None,
        })
        .collect()
}

/// A missed planned workout alerts each trainer; if the client's 7-day adherence is
/// known on that day and the day before, a fall below the trainer's threshold does too.
/// Both are dated at the end of the planned day (in the plan's zone), so a replay
/// decides the same.
fn missed(m: &WorkoutMissed) -> Vec<Candidate> {
    let tz: chrono_tz::Tz = m.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let end = (m.day + chrono::Duration::days(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_local_timezone(tz)
        .earliest()
        .map_or_else(
            || m.day.and_time(chrono::NaiveTime::MIN).and_utc() + chrono::Duration::days(1),
            |t| t.with_timezone(&Utc),
        );
    let data = json!({"client_id": m.client_id, "planned_workout_id": m.planned_workout_id,
                      "assignment_id": m.assignment_id, "day": m.day,
                      "adherence_7": m.adherence_7, "previous_adherence_7": m.previous_adherence_7});
    let mut out = Vec::new();
    for t in &m.trainers {
        out.push(Candidate {
            user_id: *t,
            rule: "missed_workout",
            dedup_key: format!("missed:{}", m.planned_workout_id),
            scope: m.client_id.to_string(),
            client_id: Some(m.client_id),
            measure: Measure::None,
            at: end,
            title: "Missed workout".to_owned(),
            body: String::new(),
            subject_id: m.client_id,
            sender_id: None,
            data: data.clone(),
            notification_id: None,
        });
        if let (Some(now), Some(before)) = (m.adherence_7, m.previous_adherence_7) {
            out.push(Candidate {
                user_id: *t,
                rule: "adherence_drop",
                dedup_key: format!("adherence:{}:{}", m.client_id, m.day),
                scope: m.client_id.to_string(),
                client_id: Some(m.client_id),
                measure: Measure::FellBelow { now, before },
                at: end,
                title: "Adherence dropping".to_owned(),
                body: String::new(),
                subject_id: m.client_id,
                sender_id: None,
                data: data.clone(),
                notification_id: None,
            });
        }
    }
    out
}

fn booking(b: &BookingChanged, time: DateTime<Utc>) -> Vec<Candidate> {
    let (rule, title, to_trainer) = match b.change.as_str() {
        "booked" => ("booking_confirmed", "Session booked", true),
        "cancelled" | "late_cancelled" => ("booking_cancelled", "Session cancelled", true),
        "rescheduled" => ("booking_rescheduled", "Session moved", true),
        "promoted" => ("waitlist_promoted", "You got a place", false),
        "no_show" => ("no_show", "Missed session", true),
        _ => return Vec::new(),
    };
    // A change to a session that has already begun (a trainer recording a past session:
    // booked, then closed) is bookkeeping, not news; only its no-show is.
    if rule != "no_show" && b.starts_at <= time {
        return Vec::new();
    }
    let data = json!({"booking_id": b.booking_id, "session_id": b.session_id, "client_id": b.client_id,
                      "trainer_id": b.trainer_id, "starts_at": b.starts_at, "change": b.change});
    let make = |user_id: Uuid| Candidate {
        user_id,
        rule,
        dedup_key: format!("booking:{}:{}:{}", b.booking_id, b.revision, rule),
        scope: if rule == "no_show" {
            b.client_id.to_string()
        } else {
            b.booking_id.to_string()
        },
        client_id: (user_id == b.trainer_id).then_some(b.client_id),
        measure: Measure::None,
        at: time,
        title: title.to_owned(),
        body: String::new(),
        subject_id: b.booking_id,
        sender_id: None,
        data: data.clone(),
        notification_id: None,
    };
    match (rule, to_trainer) {
        ("no_show", _) => vec![make(b.trainer_id)],
        (_, true) => vec![make(b.client_id), make(b.trainer_id)],
        (_, false) => vec![make(b.client_id)],
    }
}

/// How a recipient reads times and weights (their notification preferences' locale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Locale {
    pub zone: chrono_tz::Tz,
    pub imperial: bool,
}

impl Default for Locale {
    fn default() -> Self {
        Self {
            zone: chrono_tz::UTC,
            imperial: false,
        }
    }
}

/// Pounds in a kilogram (the international avoirdupois pound is 0.45359237 kg).
const LB_PER_KG: f64 = 1.0 / 0.453_592_37;

impl Locale {
    /// `kg` in the recipient's unit, with `decimals` places.
    pub fn weight(&self, kg: f64, decimals: usize) -> String {
        if self.imperial {
            format!("{:.*} lb", decimals, kg * LB_PER_KG)
        } else {
            format!("{kg:.decimals$} kg")
        }
    }

    /// `at` on the recipient's clock, with its zone's abbreviation.
    pub fn when(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%a %-d %b %H:%M %Z")
            .to_string()
    }
}

/// The alert's text for its recipient in `locale`, from its facts: the inbox, the email,
/// the text and the push all say it this way. A comment is its author's own words.
pub fn text(c: &Candidate, locale: &Locale) -> String {
    let d = &c.data;
    let kg = |k: &str, decimals| locale.weight(d[k].as_f64().unwrap_or(0.0), decimals);
    let at = d["starts_at"]
        .as_str()
        .and_then(|s| s.parse::<DateTime<Utc>>().ok())
        .map(|t| locale.when(t))
        .unwrap_or_default();
    let trainer = d["trainer_id"].as_str() == Some(c.user_id.to_string().as_str());
    let exercise = d["exercise"].as_str().unwrap_or_default();
    match (c.rule, trainer) {
        ("personal_record", _) => format!(
            "Estimated 1RM on {exercise} is now {} (was {}).",
            kg("e1rm_kg", 1),
            kg("previous_kg", 1)
        ),
        ("workload_spike", _) => format!(
            "Acute:chronic workload ratio {:.2} on {} (7-day mean {}, 28-day mean {}).",
            d["ratio"].as_f64().unwrap_or(0.0),
            d["day"].as_str().unwrap_or_default(),
            kg("acute_kg", 0),
            kg("chronic_kg", 0)
        ),
        ("no_show", _) => format!("Your client did not come to the session of {at}."),
        ("weight_change", _) => {
            let change = d["weekly_change_kg"].as_f64().unwrap_or(0.0);
            let goal = match (d["goal_kg"].as_f64(), d["toward_goal"].as_bool()) {
                (Some(g), Some(true)) => format!(", towards the {} goal", locale.weight(g, 1)),
                (Some(g), _) => format!(", away from the {} goal", locale.weight(g, 1)),
                _ => String::new(),
            };
            format!(
                "Weight trend {} {} in a week ({:.1} % of body weight) to {}{goal}.",
                if change < 0.0 { "down" } else { "up" },
                locale.weight(change.abs(), 1),
                d["weekly_change_percent"].as_f64().unwrap_or(0.0).abs(),
                kg("trend_kg", 1)
            )
        }
        ("plateau", _) => format!(
            "No gain on {exercise} over {} weeks to the week from {}: the best estimated 1RM moves {} a week.",
            d["weeks"].as_i64().unwrap_or(0),
            d["week_start"].as_str().unwrap_or_default(),
            locale.weight(d["slope_kg_per_week"].as_f64().unwrap_or(0.0), 1)
        ),
        ("weekly_summary", _) => {
            let n = |k: &str| d[k].as_i64().unwrap_or(0);
            let whose = if d["client_id"].as_str() == Some(c.user_id.to_string().as_str()) {
                "Your week"
            } else {
                "Your client's week"
            };
            format!(
                "{whose} from {}: {} training days, {} sets, {} lifted, {} new records; {} of {} planned workouts and sessions done.",
                d["week_start"].as_str().unwrap_or_default(),
                n("training_days"),
                n("sets"),
                kg("volume_kg", 0),
                n("records"),
                n("done"),
                n("planned")
            )
        }
        ("missed_workout", _) => format!(
            "Your client did not do the workout planned for {}.",
            d["day"].as_str().unwrap_or_default()
        ),
        ("adherence_drop", _) => format!(
            "7-day adherence fell to {:.0} % on {} (from {:.0} % the day before).",
            100.0 * d["adherence_7"].as_f64().unwrap_or(0.0),
            d["day"].as_str().unwrap_or_default(),
            100.0 * d["previous_adherence_7"].as_f64().unwrap_or(0.0)
        ),
        ("booking_confirmed", false) => format!("Your session on {at} is booked."),
        ("booking_confirmed", true) => format!("A client booked your session on {at}."),
        ("booking_cancelled", false) => format!("Your session on {at} is cancelled."),
        ("booking_cancelled", true) => format!("A client cancelled the session on {at}."),
        ("booking_rescheduled", false) => format!("Your session is now on {at}."),
        ("booking_rescheduled", true) => format!("A client's session moved to {at}."),
        ("waitlist_promoted", _) => format!("A place opened up: you are booked on {at}."),
        ("session_reminder", _) => format!(
            "Your session starts {}: {at}.",
            if d["lead_minutes"].as_i64().unwrap_or(0) >= 24 * 60 {
                "in 24 hours"
            } else {
                "in an hour"
            }
        ),
        _ => c.body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking_event(change: &str) -> BookingChanged {
        BookingChanged {
            booking_id: Uuid::now_v7(),
            session_id: Uuid::now_v7(),
            session_type_id: Uuid::now_v7(),
            client_id: Uuid::now_v7(),
            trainer_id: Uuid::now_v7(),
            starts_at: Utc::now() + chrono::Duration::days(1),
            ends_at: Utc::now() + chrono::Duration::days(1),
            status: "booked".into(),
            change: change.into(),
            waitlist_position: None,
            credits: 1,
            revision: 3,
        }
    }

    #[test]
    fn each_booking_change_reaches_whom_it_concerns() {
        let cases = [
            ("booked", Some("booking_confirmed"), 2),
            ("cancelled", Some("booking_cancelled"), 2),
            ("late_cancelled", Some("booking_cancelled"), 2),
            ("rescheduled", Some("booking_rescheduled"), 2),
            ("promoted", Some("waitlist_promoted"), 1),
            ("no_show", Some("no_show"), 1),
            ("waitlisted", None, 0),
            ("attended", None, 0),
            ("checked_in", None, 0),
        ];
        for (change, rule, recipients) in cases {
            let b = booking_event(change);
            let out = candidates(&Trigger::Booking(b.clone(), Utc::now()));
            assert_eq!(out.len(), recipients, "{change}");
            for c in &out {
                assert_eq!(Some(c.rule), rule, "{change}");
                assert!(c.dedup_key.contains(&b.booking_id.to_string()));
                assert!(c.dedup_key.contains(":3:"), "{}", c.dedup_key);
                // Only the trainer's copy is subject to the trainer's settings.
                assert_eq!(c.client_id.is_some(), c.user_id == b.trainer_id, "{change}");
            }
            if change == "no_show" {
                assert_eq!(out[0].user_id, b.trainer_id);
            }
            if change == "promoted" {
                assert_eq!(out[0].user_id, b.client_id);
            }
        }
    }

    fn missed_event(now: Option<f64>, before: Option<f64>) -> WorkoutMissed {
        WorkoutMissed {
            client_id: Uuid::now_v7(),
            planned_workout_id: Uuid::now_v7(),
            assignment_id: Uuid::now_v7(),
            day: "2026-12-01".parse().unwrap(),
            time_zone: "America/New_York".into(),
            adherence_7: now,
            previous_adherence_7: before,
            trainers: vec![Uuid::now_v7(), Uuid::now_v7()],
        }
    }

    #[test]
    fn a_missed_workout_alerts_each_trainer_and_a_known_adherence_may_drop() {
        let m = missed_event(Some(0.5), Some(1.0));
        let out = candidates(&Trigger::Missed(m.clone()));
        let rules: Vec<(&str, Uuid)> = out.iter().map(|c| (c.rule, c.user_id)).collect();
        assert_eq!(
            rules,
            [
                ("missed_workout", m.trainers[0]),
                ("adherence_drop", m.trainers[0]),
                ("missed_workout", m.trainers[1]),
                ("adherence_drop", m.trainers[1]),
            ]
        );
        // Dated at the end of the planned day where it was planned: midnight in New York
        // (5 hours behind UTC in December).
        let end: DateTime<Utc> = "2026-12-02T05:00:00Z".parse().unwrap();
        assert!(out
            .iter()
            .all(|c| c.at == end && c.client_id == Some(m.client_id)));
        assert_eq!(out[0].dedup_key, format!("missed:{}", m.planned_workout_id));
        assert_eq!(
            out[1].dedup_key,
            format!("adherence:{}:2026-12-01", m.client_id)
        );
        assert_eq!(
            out[1].measure,
            Measure::FellBelow {
                now: 0.5,
                before: 1.0
            }
        );
        assert_eq!(
            out[1].body,
            "7-day adherence fell to 50 % on 2026-12-01 (from 100 % the day before)."
        );
        // Without a week's adherence on either side, no drop to speak of.
        for (now, before) in [(None, Some(1.0)), (Some(0.5), None), (None, None)] {
            let out = candidates(&Trigger::Missed(missed_event(now, before)));
            assert!(out.iter().all(|c| c.rule == "missed_workout") && out.len() == 2);
        }
    }

    #[test]
    fn a_weight_change_is_measured_either_way_and_worded_against_the_goal() {
        let at: DateTime<Utc> = "2026-12-01T07:00:00Z".parse().unwrap();
        let w = |goal_kg: Option<f64>, toward_goal: Option<bool>| WeightChange {
            client_id: Uuid::now_v7(),
            day: "2026-12-01".parse().unwrap(),
            measured_at: at,
            trend_kg: 79.0,
            weekly_change_kg: -1.0,
            weekly_change_percent: -1.25,
            goal_kg,
            toward_goal,
            trainers: vec![Uuid::now_v7()],
        };
        let out = candidates(&Trigger::Weight(w(Some(72.0), Some(true)), at));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].measure, Measure::Above(1.25));
        assert_eq!(
            out[0].body,
            format!(
                "Weight trend down 1.0 kg in a week ({:.1} % of body weight) to 79.0 kg, towards the 72.0 kg goal.",
                1.25
            )
        );
        let pounds = Locale {
            zone: chrono_tz::UTC,
            imperial: true,
        };
        let away = &candidates(&Trigger::Weight(w(Some(90.0), Some(false)), at))[0];
        assert!(text(away, &pounds).ends_with(&format!(
            "to {:.1} lb, away from the {:.1} lb goal.",
            79.0 * LB_PER_KG,
            90.0 * LB_PER_KG
        )));
        let none = &candidates(&Trigger::Weight(w(None, None), at))[0];
        assert!(none.body.ends_with("to 79.0 kg."), "{}", none.body);
        // A weigh-in counted more than 48 hours late is not news.
        assert!(candidates(&Trigger::Weight(
            w(None, None),
            at + NEWS_WINDOW + chrono::Duration::minutes(1)
        ))
        .is_empty());
    }

    #[test]
    fn a_week_goes_to_each_trainer_and_the_client_in_their_words() {
        let w = WeeklySummary {
            client_id: Uuid::now_v7(),
            week_start: "2026-11-23".parse().unwrap(),
            training_days: 2,
            sets: 3,
            volume_kg: 1275.0,
            records: 1,
            planned: 1,
            done: 0,
            trainers: vec![Uuid::now_v7()],
        };
        let judged: DateTime<Utc> = "2026-11-30T06:00:02Z".parse().unwrap();
        let out = candidates(&Trigger::Summary(w.clone(), judged));
        let to: Vec<(Uuid, Option<Uuid>)> = out.iter().map(|c| (c.user_id, c.client_id)).collect();
        // Only the trainer's copy is subject to the trainer's settings for the client.
        assert_eq!(
            to,
            [(w.trainers[0], Some(w.client_id)), (w.client_id, None)]
        );
        assert!(out.iter().all(
            |c| c.dedup_key == format!("summary:{}:2026-11-23", w.client_id) && c.at == judged
        ));
        assert_eq!(out[0].body, "Your client's week from 2026-11-23: 2 training days, 3 sets, 1275 kg lifted, 1 new records; 0 of 1 planned workouts and sessions done.");
        assert!(out[1].body.starts_with("Your week from 2026-11-23:"));
        // A week that does not start on a Monday is refused.
        let tuesday = WeeklySummary {
            week_start: "2026-11-24".parse().unwrap(),
            ..w
        };
        let bytes = serde_json::to_vec(&CloudEvent::new(
            "/t",
            WEEKLY_SUMMARY_V1,
            tuesday.client_id.to_string(),
            tuesday,
        ))
        .unwrap();
        assert!(decode(Some(&bytes)).unwrap_err().contains("a Monday"));
    }

    #[test]
    fn a_drop_passes_only_when_it_crosses_the_threshold() {
        let fell = |now, before| Measure::FellBelow { now, before };
        assert!(fell(0.5, 0.7).passes(Some(0.7)));
        assert!(
            !fell(0.7, 1.0).passes(Some(0.7)),
            "at the threshold is not below it"
        );
        assert!(
            !fell(0.5, 0.6).passes(Some(0.7)),
            "already below the day before"
        );
        assert!(fell(0.5, 0.6).passes(Some(0.6)));
        assert!(Measure::Above(1.6).passes(Some(1.5)));
        assert!(!Measure::Above(1.5).passes(Some(1.5)));
        assert!(Measure::None.passes(Some(1.0)) && fell(0.9, 0.1).passes(None));
    }

    #[test]
    fn a_missed_workout_signal_out_of_range_is_refused() {
        let event = |now: f64| {
            let m = missed_event(Some(now), Some(1.0));
            serde_json::to_vec(&CloudEvent::new(
                "/t",
                WORKOUT_MISSED_V1,
                m.client_id.to_string(),
                m,
            ))
            .unwrap()
        };
        assert!(matches!(decode(Some(&event(0.25))), Ok(Trigger::Missed(_))));
        assert!(decode(Some(&event(1.5)))
            .unwrap_err()
            .contains("adherence from 0 to 1"));
    }

    #[test]
    fn a_past_session_recorded_alerts_only_its_no_show() {
        for (change, expected) in [("booked", 0), ("late_cancelled", 0), ("no_show", 1)] {
            let mut b = booking_event(change);
            b.starts_at = Utc::now() - chrono::Duration::days(7);
            let out = candidates(&Trigger::Booking(b, Utc::now()));
            assert_eq!(out.len(), expected, "{change}");
        }
    }

    #[test]
    fn a_record_goes_to_every_trainer_with_one_key_per_set() {
        let trainers = vec![Uuid::now_v7(), Uuid::now_v7()];
        let r = PersonalRecord {
            client_id: Uuid::now_v7(),
            exercise: "barbell-squat".into(),
            e1rm_kg: 120.0,
            previous_kg: 110.0,
            set_id: Uuid::now_v7(),
            achieved_at: Utc::now(),
            trainers: trainers.clone(),
        };
        let out = candidates(&Trigger::Record(r.clone(), Utc::now()));
        assert_eq!(out.iter().map(|c| c.user_id).collect::<Vec<_>>(), trainers);
        assert!(out.iter().all(
            |c| c.dedup_key == out[0].dedup_key && c.dedup_key.contains(&r.set_id.to_string())
        ));
        assert!(out[0].body.contains("120.0 kg") && out[0].body.contains("110.0 kg"));
    }

    #[test]
    fn each_recipient_reads_weights_and_times_in_their_own_locale() {
        let r = PersonalRecord {
            client_id: Uuid::now_v7(),
            exercise: "barbell-squat".into(),
            e1rm_kg: 128.333,
            previous_kg: 116.667,
            set_id: Uuid::now_v7(),
            achieved_at: Utc::now(),
            trainers: vec![Uuid::now_v7()],
        };
        let c = &candidates(&Trigger::Record(r, Utc::now()))[0];
        let imperial = Locale {
            zone: chrono_tz::America::New_York,
            imperial: true,
        };
        // 128.333 kg / 0.45359237 = 282.92 lb; 116.667 kg = 257.21 lb.
        assert_eq!(
            text(c, &imperial),
            "Estimated 1RM on barbell-squat is now 282.9 lb (was 257.2 lb)."
        );
        assert_eq!(
            c.body,
            "Estimated 1RM on barbell-squat is now 128.3 kg (was 116.7 kg)."
        );
        // 09:30 UTC on 3 December is 10:30 in Berlin (CET, UTC+1) and 04:30 in New York
        // (EST, UTC−5).
        let mut b = booking_event("booked");
        b.starts_at = "2030-12-03T09:30:00Z".parse().unwrap();
        let both = candidates(&Trigger::Booking(b.clone(), Utc::now()));
        let berlin = Locale {
            zone: chrono_tz::Europe::Berlin,
            imperial: false,
        };
        let client = both.iter().find(|c| c.user_id == b.client_id).unwrap();
        let trainer = both.iter().find(|c| c.user_id == b.trainer_id).unwrap();
        assert_eq!(
            text(client, &berlin),
            "Your session on Tue 3 Dec 10:30 CET is booked."
        );
        assert_eq!(
            text(trainer, &imperial),
            "A client booked your session on Tue 3 Dec 04:30 EST."
        );
        assert_eq!(
            client.body,
            "Your session on Tue 3 Dec 09:30 UTC is booked."
        );
    }

    #[test]
    fn training_counted_long_after_it_happened_is_not_news() {
        let r = PersonalRecord {
            client_id: Uuid::now_v7(),
            exercise: "barbell-squat".into(),
            e1rm_kg: 120.0,
            previous_kg: 110.0,
            set_id: Uuid::now_v7(),
            achieved_at: Utc::now() - chrono::Duration::days(20),
            trainers: vec![Uuid::now_v7()],
        };
        let counted_at = |late: chrono::Duration| r.achieved_at + late;
        assert!(candidates(&Trigger::Record(
            r.clone(),
            counted_at(chrono::Duration::days(3))
        ))
        .is_empty());
        assert_eq!(
            candidates(&Trigger::Record(
                r.clone(),
                counted_at(chrono::Duration::hours(47))
            ))
            .len(),
            1
        );
        let w = WorkloadSpike {
            client_id: r.client_id,
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            ratio: 1.8,
            acute_kg: 900.0,
            chronic_kg: 500.0,
            trainers: r.trainers.clone(),
        };
        let day_end = chrono::NaiveDate::from_ymd_opt(2026, 11, 3)
            .unwrap()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        assert_eq!(candidates(&Trigger::Workload(w.clone(), day_end)).len(), 1);
        assert!(candidates(&Trigger::Workload(w, day_end + chrono::Duration::days(3))).is_empty());
    }

    #[test]
    fn bad_payloads_are_rejected_with_a_reason() {
        let client = Uuid::now_v7();
        let record = |e1rm: f64, subject: Uuid| {
            serde_json::to_vec(&CloudEvent::new(
                "/test",
                PERSONAL_RECORD_V1,
                subject.to_string(),
                PersonalRecord {
                    client_id: client,
                    exercise: "squat".into(),
                    e1rm_kg: e1rm,
                    previous_kg: 100.0,
                    set_id: Uuid::now_v7(),
                    achieved_at: Utc::now(),
                    trainers: vec![],
                },
            ))
            .unwrap()
        };
        assert!(matches!(
            decode(Some(&record(110.0, client))),
            Ok(Trigger::Record(..))
        ));
        assert!(decode(Some(&record(90.0, client)))
            .unwrap_err()
            .contains("exceed"));
        assert!(decode(Some(&record(110.0, Uuid::now_v7())))
            .unwrap_err()
            .contains("subject"));
        assert!(decode(None).is_err());
        assert!(decode(Some(b"{not json")).is_err());
    }
}
