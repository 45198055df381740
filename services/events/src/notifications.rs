use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const EMAIL_REQUESTED_V1: &str = "fitsync.notification.email_requested.v1";

/// What an email is for; the notifications service owns the wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTemplate {
    VerifyEmail,
    PasswordReset,
    /// Someone tried to register an address that already has an account.
    AccountExists,
}

/// A service asks for an email to be sent. Published on `fitsync.notifications`, which
/// carries one-time tokens and is therefore neither indexed nor kept long; the
/// notifications service sends each `notification_id` at most once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailRequested {
    pub notification_id: Uuid,
    pub user_id: Uuid,
    pub to: String,
    pub template: EmailTemplate,
    /// The one-time token the email's link carries.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}
