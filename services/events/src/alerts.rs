//! Signals the progress analytics job derives from what it computes, for the alerts job
//! (topic `fitsync.alerts`, keyed by the client). The analytics transaction writes them
//! to progressdb's outbox with its results and offsets, so each is published once per
//! change that caused it; the alerts job never recomputes an analytic.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const PERSONAL_RECORD_V1: &str = "fitsync.progress.personal_record.v1";
pub const WORKLOAD_SPIKE_V1: &str = "fitsync.progress.workload_spike.v1";
pub const WORKOUT_MISSED_V1: &str = "fitsync.progress.workout_missed.v1";
pub const WEIGHT_CHANGE_V1: &str = "fitsync.progress.weight_change.v1";
pub const WEEKLY_SUMMARY_V1: &str = "fitsync.progress.weekly_summary.v1";
pub const PLATEAU_V1: &str = "fitsync.progress.plateau.v1";

/// The alert rules a trainer tunes per client (through the notifications API; the alerts
/// job applies them), and the range of each one's threshold if it has one. The other
/// rules concern the recipient's own bookings and messages, governed by their delivery
/// preferences.
pub const TUNABLE_RULES: [(&str, Option<(f64, f64)>); 8] = [
    ("personal_record", None),
    ("workload_spike", Some((1.0, 5.0))),
    ("weight_change", Some((0.5, 5.0))),
    ("no_show", None),
    ("missed_workout", None),
    ("adherence_drop", Some((0.1, 1.0))),
    ("weekly_summary", None),
    ("plateau", None),
];

/// A client's best estimated one-rep max on an exercise went up (the first set ever
/// logged on an exercise sets a baseline, not a record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalRecord {
    pub client_id: Uuid,
    pub exercise: String,
    pub e1rm_kg: f64,
    pub previous_kg: f64,
    pub set_id: Uuid,
    pub achieved_at: DateTime<Utc>,
    /// The client's trainers when the record was computed.
    pub trainers: Vec<Uuid>,
}

/// A client's acute:chronic workload ratio on a local day rose above the floor any
/// trainer's threshold can be set to (`WORKLOAD_SPIKE_FLOOR`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpike {
    pub client_id: Uuid,
    pub day: NaiveDate,
    pub ratio: f64,
    pub acute_kg: f64,
    pub chronic_kg: f64,
    pub trainers: Vec<Uuid>,
}

/// The lowest workload-ratio threshold a trainer can choose; the analytics job signals
/// every day above it, the alerts job applies each trainer's own.
pub const WORKLOAD_SPIKE_FLOOR: f64 = 1.3;

/// A planned workout's local day ended and no finished workout carried it out (signalled
/// once, by the analytics job's day-close pass, for days that ended at most
/// `MISSED_NEWS_DAYS` ago). With the client's adherence over the seven days ending on it
/// and over the seven days before: a drop below a trainer's threshold is read from these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkoutMissed {
    pub client_id: Uuid,
    pub planned_workout_id: Uuid,
    pub assignment_id: Uuid,
    /// The local day it was planned for, in `time_zone` (the assignment's).
    pub day: NaiveDate,
    pub time_zone: String,
    /// Done of planned (workouts and sessions) over `day` and the six days before, 0 to 1;
    /// absent when nothing was planned or booked.
    pub adherence_7: Option<f64>,
    /// The same over the seven days before `day`.
    pub previous_adherence_7: Option<f64>,
    pub trainers: Vec<Uuid>,
}

/// How many days after a planned day's end a missed workout is still signalled: a plan
/// assigned or moved into the past is history, not news.
pub const MISSED_NEWS_DAYS: i64 = 2;

/// A new weigh-in moved a client's weight trend, over the week to its day, by more than
/// `WEIGHT_CHANGE_FLOOR` percent (the trend's change against the last point a week or
/// more before, as the weight goal's weekly rate reads it). With the client's current
/// weight goal, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightChange {
    pub client_id: Uuid,
    /// The weigh-in's local day, the trend's last.
    pub day: NaiveDate,
    pub measured_at: DateTime<Utc>,
    pub trend_kg: f64,
    pub weekly_change_kg: f64,
    /// `weekly_change_kg` as a percentage of the trend a week before.
    pub weekly_change_percent: f64,
    pub goal_kg: Option<f64>,
    /// The change moves the trend towards the goal (absent: no weight goal).
    pub toward_goal: Option<bool>,
    pub trainers: Vec<Uuid>,
}

/// The lowest weekly change (percent of body weight) a trainer's threshold can be set to;
/// the analytics job signals every change beyond it.
pub const WEIGHT_CHANGE_FLOOR: f64 = 0.5;

/// A client's week (Monday to Sunday, their local days) once it has ended in their time
/// zone (from Monday 06:00 there), from the analytics job's results, for a client their trainers
/// coached before it ended and who trained or had something planned or booked in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklySummary {
    pub client_id: Uuid,
    /// The week's Monday.
    pub week_start: NaiveDate,
    pub training_days: i64,
    pub sets: i64,
    /// Volume load, kg × reps.
    pub volume_kg: f64,
    /// Exercises whose best e1RM rose above every earlier day's in the week.
    pub records: i64,
    /// Planned workouts and resolved sessions, and those done or attended.
    pub planned: i64,
    pub done: i64,
    pub trainers: Vec<Uuid>,
}

/// An exercise a client trained in a summarised week whose weekly best e1RM stopped
/// rising: the least-squares slope over the weeks with data among the six ending with
/// that week (at least three) is zero or below, as the plateau chart fits it. Judged once,
/// when the week is summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plateau {
    pub client_id: Uuid,
    pub exercise: String,
    /// The Monday of the last week fitted.
    pub week_start: NaiveDate,
    pub weeks: u32,
    pub slope_kg_per_week: f64,
    pub trainers: Vec<Uuid>,
}
