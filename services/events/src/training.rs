use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Retired: v1 had no workout, RPE or outcome. Consumers still read it (a replay of an
/// old log), with those fields absent; producers write v2.
pub const SET_LOGGED_V1: &str = "fitsync.workout.set_logged.v1";
pub const SET_LOGGED_V2: &str = "fitsync.workout.set_logged.v2";

/// A client logged one working set (v2; a v1 payload decodes with the v2 fields absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLogged {
    pub set_id: Uuid,
    pub client_id: Uuid,
    /// Exercise slug, e.g. `back-squat`.
    pub exercise: String,
    pub reps: i32,
    pub weight_kg: f64,
    /// Reps in reserve (0 = taken to failure), when the client recorded it.
    pub rir: Option<i32>,
    pub performed_at: DateTime<Utc>,
    /// The workout session it belongs to (absent: logged on its own).
    #[serde(default)]
    pub workout_id: Option<Uuid>,
    /// Rating of perceived exertion, 1 to 10 in half steps, when recorded instead of RIR.
    #[serde(default)]
    pub rpe: Option<f64>,
    /// The set fell short of what was attempted.
    #[serde(default)]
    pub failed: bool,
    /// The day it was done in the client's time zone (absent in older events: the UTC
    /// date of `performed_at`, see [`SetLogged::day`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_date: Option<chrono::NaiveDate>,
}

impl SetLogged {
    /// The client's local day of the set: `local_date`, or the UTC date of older events.
    pub fn day(&self) -> chrono::NaiveDate {
        self.local_date
            .unwrap_or_else(|| self.performed_at.date_naive())
    }

    /// Reps in reserve as given, or from RPE (RPE 10 is 0 in reserve; RPE 8.5 is 1.5,
    /// counted as 1).
    pub fn reps_in_reserve(&self) -> Option<i32> {
        self.rir.or_else(|| {
            self.rpe
                .map(|rpe| (10.0 - rpe).floor().clamp(0.0, 10.0) as i32)
        })
    }

    /// The checks the JSON Schema expresses, for consumers that decode with serde.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(1..=100).contains(&self.reps) {
            return Err("reps must be between 1 and 100");
        }
        if !(self.weight_kg.is_finite() && (0.0..=1000.0).contains(&self.weight_kg)) {
            return Err("weight_kg must be between 0 and 1000");
        }
        if self.rir.is_some_and(|r| !(0..=10).contains(&r)) {
            return Err("rir must be between 0 and 10");
        }
        if self.exercise.is_empty() || self.exercise.len() > 64 {
            return Err("exercise must be 1 to 64 characters");
        }
        if self
            .rpe
            .is_some_and(|r| !(1.0..=10.0).contains(&r) || (r * 2.0).fract() != 0.0)
        {
            return Err("rpe must be 1 to 10 in half steps");
        }
        Ok(())
    }
}

/// Retired (see `SET_LOGGED_V1`).
pub const SET_CORRECTED_V1: &str = "fitsync.workout.set_corrected.v1";
pub const SET_CORRECTED_V2: &str = "fitsync.workout.set_corrected.v2";
pub const SET_DELETED_V1: &str = "fitsync.workout.set_deleted.v1";

/// A client corrected a logged set: the whole set as it now stands. `revision` counts
/// the set's changes (its `set_logged` is revision 1); consumers apply a change only if
/// its revision is higher than the one they hold, so a replay never undoes a correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCorrected {
    pub set_id: Uuid,
    pub client_id: Uuid,
    pub exercise: String,
    pub reps: i32,
    pub weight_kg: f64,
    pub rir: Option<i32>,
    pub performed_at: DateTime<Utc>,
    pub revision: i32,
    #[serde(default)]
    pub workout_id: Option<Uuid>,
    #[serde(default)]
    pub rpe: Option<f64>,
    #[serde(default)]
    pub failed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_date: Option<chrono::NaiveDate>,
}

impl SetCorrected {
    /// The set as a `SetLogged` (same checks, same fields).
    pub fn as_logged(&self) -> SetLogged {
        SetLogged {
            set_id: self.set_id,
            client_id: self.client_id,
            exercise: self.exercise.clone(),
            reps: self.reps,
            weight_kg: self.weight_kg,
            rir: self.rir,
            performed_at: self.performed_at,
            workout_id: self.workout_id,
            rpe: self.rpe,
            failed: self.failed,
            local_date: self.local_date,
        }
    }

    pub fn validate(&self) -> Result<(), &'static str> {
        if self.revision < 2 {
            return Err("revision of a correction must be at least 2");
        }
        self.as_logged().validate()
    }
}

/// A client deleted a logged set; `revision` is the deletion's place in the set's changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDeleted {
    pub set_id: Uuid,
    pub client_id: Uuid,
    pub revision: i32,
}

pub const PROGRAM_SAVED_V1: &str = "fitsync.program.template_saved.v1";
pub const PLAN_CHANGED_V1: &str = "fitsync.program.plan_changed.v1";

/// A program template was created or saved as a new version (keyed by its owner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramSaved {
    pub template_id: Uuid,
    /// `trainer` or `gym`.
    pub owner_kind: String,
    pub owner_id: Uuid,
    pub shared_gym_id: Option<Uuid>,
    pub version: i32,
    pub name: String,
    pub weeks: i32,
    pub slots: i32,
    /// The library exercises it prescribes, by slug.
    pub exercises: Vec<String>,
}

/// One planned workout of a client's plan, on a date in the plan's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedWorkout {
    pub planned_workout_id: Uuid,
    pub date: chrono::NaiveDate,
    pub week: i32,
    pub day: i32,
    pub name: String,
}

/// A client's plan from one assignment as it now stands (assigned, or ended: the
/// workouts still planned). Consumers replace what they hold for the assignment when
/// `revision` is higher. Keyed by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanChanged {
    pub assignment_id: Uuid,
    pub client_id: Uuid,
    pub template_id: Uuid,
    pub template_version: i32,
    /// `active`, `paused` (the workouts after the pause are not planned) or `ended`.
    pub status: String,
    pub start_date: chrono::NaiveDate,
    pub time_zone: String,
    pub revision: i32,
    pub planned: Vec<PlannedWorkout>,
}

pub const WORKOUT_CHANGED_V1: &str = "fitsync.workout.session_changed.v1";
pub const COMMENT_ADDED_V1: &str = "fitsync.workout.comment_added.v1";

/// A workout session as it now stands: started, finished, or deleted (its sets are
/// deleted with it, each by its own `set_deleted`). Consumers replace what they hold
/// when `revision` is higher. Keyed by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkoutChanged {
    pub workout_id: Uuid,
    pub client_id: Uuid,
    /// The planned workout it carries out (absent: ad hoc).
    pub planned_workout_id: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How hard the whole session felt, 1 to 10.
    pub perceived_effort: Option<i32>,
    pub notes: Option<String>,
    /// `open`, `finished` or `deleted`.
    pub status: String,
    pub revision: i32,
}

/// A trainer (or gym) commented on a client's workout. Keyed by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentAdded {
    pub comment_id: Uuid,
    pub workout_id: Uuid,
    pub client_id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}
