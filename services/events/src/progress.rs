//! Events of the progress service: body measurements and goals. Keyed by the client.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MEASUREMENT_RECORDED_V1: &str = "fitsync.metric.measurement_recorded.v1";
pub const MEASUREMENT_DELETED_V1: &str = "fitsync.metric.measurement_deleted.v1";
pub const GOAL_CHANGED_V1: &str = "fitsync.goal.changed.v1";

/// A body measurement (weight, body fat, a circumference, resting heart rate, or a custom
/// metric) of a client. Revision 1; its deletion is revision 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasurementRecorded {
    pub measurement_id: Uuid,
    pub client_id: Uuid,
    /// The metric's key: `weight`, `body_fat`, `waist`, … or `custom-<id>`.
    pub metric: String,
    pub unit: String,
    pub value: f64,
    pub measured_at: DateTime<Utc>,
    /// The day it was taken in the client's time zone.
    pub local_date: NaiveDate,
    pub recorded_by: Uuid,
}

impl MeasurementRecorded {
    pub fn validate(&self) -> Result<(), &'static str> {
        if !self.value.is_finite() || self.value < 0.0 || self.value > 100_000.0 {
            return Err("value must be 0 to 100000");
        }
        if self.metric.is_empty() || self.metric.len() > 64 {
            return Err("metric must be 1 to 64 characters");
        }
        Ok(())
    }
}

/// A measurement was deleted; `revision` is 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasurementDeleted {
    pub measurement_id: Uuid,
    pub client_id: Uuid,
    pub revision: i32,
}

/// A client's goal as it now stands: a target body weight, or a target e1RM on an
/// exercise, by a date. Consumers keep the highest revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalChanged {
    pub goal_id: Uuid,
    pub client_id: Uuid,
    /// `weight` or `lift`.
    pub kind: String,
    /// The exercise's slug, for a lift goal.
    pub exercise: Option<String>,
    pub target_kg: f64,
    pub by: NaiveDate,
    /// `active` or `deleted`.
    pub status: String,
    pub revision: i32,
}
