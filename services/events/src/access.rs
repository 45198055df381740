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
}

/// A user joined or left a gym (subject: the user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GymMembershipChanged {
    pub gym_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    pub at: DateTime<Utc>,
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
