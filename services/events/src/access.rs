//! Who may see whose data: trainer–client relationships and gym membership, owned by
//! the users service; every other service keeps a projection of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const RELATIONSHIP_STARTED_V1: &str = "fitsync.relationship.started.v1";
pub const RELATIONSHIP_ENDED_V1: &str = "fitsync.relationship.ended.v1";
pub const GYM_MEMBER_JOINED_V1: &str = "fitsync.gym.member_joined.v1";
pub const GYM_MEMBER_LEFT_V1: &str = "fitsync.gym.member_left.v1";

/// A trainer–client relationship began or ended (subject: the client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationshipChanged {
    pub relationship_id: Uuid,
    pub trainer_id: Uuid,
    pub client_id: Uuid,
    pub at: DateTime<Utc>,
    /// The change's place in the users database's order of access changes (a sequence):
    /// a projection applies a change only over an older one, whatever order copies of
    /// events arrive in and whatever the producers' clocks say. Absent (0) in events
    /// produced before it existed, which are ordered by `at` among themselves.
    #[serde(default)]
    pub version: i64,
}

/// A user joined or left a gym (subject: the user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GymMembershipChanged {
    pub gym_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    pub at: DateTime<Utc>,
    /// As `RelationshipChanged::version`.
    #[serde(default)]
    pub version: i64,
}

pub const HEARTBEAT_V1: &str = "fitsync.stream.heartbeat.v1";

/// The relay of `source` found its outbox empty at `as_of`: every change committed
/// before then precedes this message on this partition. Sent to every partition of the
/// source's topic, so a consumer knows how current it is even when nothing changes
/// (the access projections fail closed when they fall too far behind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub source: String,
    pub partition: i32,
    pub partitions: i32,
    pub as_of: DateTime<Utc>,
}

pub const HEALTH_DATA_READ_V1: &str = "fitsync.audit.health_data_read.v1";

/// Someone other than the client read the client's health data (subject: the client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthDataRead {
    pub client_id: Uuid,
    pub reader_id: Uuid,
    pub reader_role: String,
    pub at: DateTime<Utc>,
}
