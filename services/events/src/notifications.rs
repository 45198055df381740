use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// v2: the token travels sealed (v1 carried it in plain text).
pub const EMAIL_REQUESTED_V2: &str = "fitsync.notification.email_requested.v2";

/// What an email is for; the notifications service owns the wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTemplate {
    VerifyEmail,
    PasswordReset,
    /// Someone tried to register an address that already has an account.
    AccountExists,
}

/// A service asks for an email to be sent, on `fitsync.notifications` (not indexed, kept
/// briefly). The link's one-time token is sealed for the notifications service
/// (`fitsync_platform::sealed`), bound to `notification_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailRequested {
    pub notification_id: Uuid,
    pub user_id: Uuid,
    pub to: String,
    pub template: EmailTemplate,
    /// The one-time token the email's link carries, sealed.
    pub sealed_token: String,
    pub expires_at: DateTime<Utc>,
}

pub const ADDRESS_VERIFIED_V1: &str = "fitsync.notification.address_verified.v1";

/// A user's email address became verified, on `fitsync.notifications` (private to the
/// notifications service, never indexed): where their alert emails may go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressVerified {
    pub user_id: Uuid,
    pub email: String,
    pub verified_at: DateTime<Utc>,
}

pub const ALERT_DELIVERY_V1: &str = "fitsync.notification.alert_delivery.v1";

/// What became of an alert on an external channel, on `fitsync.notifications`: handed
/// over (`sent`), given up (`dead`), or as the SMS gateway's receipt reports
/// (`delivered`, `undelivered`). Keyed by the recipient. No address or number: the ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertDeliveryChanged {
    pub delivery_id: Uuid,
    pub notification_id: Uuid,
    pub user_id: Uuid,
    /// `email`, `sms` or `push`.
    pub channel: String,
    pub status: String,
    pub attempts: i32,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}
