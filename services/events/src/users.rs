use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const USER_REGISTERED_V1: &str = "fitsync.user.registered.v1";

/// A new account. Carries no password material and no email address: consumers that
/// need to contact the user ask the users service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub role: String,
    pub display_name: String,
    pub registered_at: DateTime<Utc>,
}
