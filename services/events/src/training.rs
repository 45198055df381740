use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const SET_LOGGED_V1: &str = "fitsync.workout.set_logged.v1";

/// A client logged one working set.
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
}

impl SetLogged {
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
        Ok(())
    }
}

pub const SET_CORRECTED_V1: &str = "fitsync.workout.set_corrected.v1";
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
    /// `active` or `ended`.
    pub status: String,
    pub start_date: chrono::NaiveDate,
    pub time_zone: String,
    pub revision: i32,
    pub planned: Vec<PlannedWorkout>,
}
