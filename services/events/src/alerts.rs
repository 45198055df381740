//! Signals the progress analytics job derives from what it computes, for the alerts job
//! (topic `fitsync.alerts`, keyed by the client). The analytics transaction writes them
//! to progressdb's outbox with its results and offsets, so each is published once per
//! change that caused it; the alerts job never recomputes an analytic.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const PERSONAL_RECORD_V1: &str = "fitsync.progress.personal_record.v1";
pub const WORKLOAD_SPIKE_V1: &str = "fitsync.progress.workload_spike.v1";

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
