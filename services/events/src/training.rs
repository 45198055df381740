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
