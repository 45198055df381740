//! The schedule service's events (topic `fitsync.schedule`): a trainer's availability,
//! the session types a trainer or gym offers, the sessions on the calendar (1:1 and
//! group classes) and the bookings on them. Each carries the thing as it now stands
//! with a `revision`; consumers replace what they hold when the revision is higher.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const AVAILABILITY_CHANGED_V1: &str = "fitsync.schedule.availability_changed.v1";
pub const SESSION_TYPE_SAVED_V1: &str = "fitsync.schedule.session_type_saved.v1";
pub const SESSION_CHANGED_V1: &str = "fitsync.schedule.session_changed.v1";
pub const BOOKING_CHANGED_V1: &str = "fitsync.booking.changed.v1";

/// Weekly hours on one ISO weekday (1 = Monday), local times `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    pub weekday: u8,
    pub starts: String,
    pub ends: String,
}

/// A date that differs from the weekly hours: `off` (the whole day when no times are
/// given) or `extra` hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateException {
    pub date: NaiveDate,
    pub kind: String,
    pub starts: Option<String>,
    pub ends: Option<String>,
}

/// A trainer's bookable hours as they now stand. Keyed by the trainer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityChanged {
    pub trainer_id: Uuid,
    pub time_zone: String,
    pub weekly: Vec<WeeklyHours>,
    pub exceptions: Vec<DateException>,
    pub buffer_before_min: i32,
    pub buffer_after_min: i32,
    pub min_notice_min: i32,
    pub horizon_days: i32,
    pub max_per_day: Option<i32>,
    pub max_per_week: Option<i32>,
    pub revision: i32,
}

/// A kind of session a trainer or a gym offers. Keyed by its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionTypeSaved {
    pub session_type_id: Uuid,
    /// `trainer` or `gym`.
    pub owner_kind: String,
    pub owner_id: Uuid,
    pub name: String,
    /// `one_on_one` or `group`.
    pub kind: String,
    pub duration_min: i32,
    pub capacity: i32,
    pub room_id: Option<Uuid>,
    pub credits: i32,
    pub cancel_window_hours: i32,
}

/// A session on a trainer's calendar (a 1:1 or one occurrence of a class) as it now
/// stands. Keyed by the trainer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionChanged {
    pub session_id: Uuid,
    pub session_type_id: Uuid,
    pub trainer_id: Uuid,
    pub room_id: Option<Uuid>,
    /// `one_on_one` or `group`.
    pub kind: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    /// Places taken (booked, checked in or attended).
    pub booked: i32,
    /// `scheduled` or `cancelled`.
    pub status: String,
    pub revision: i32,
}

/// A client's place on a session as it now stands, and the change that made it so.
/// Keyed by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingChanged {
    pub booking_id: Uuid,
    pub session_id: Uuid,
    pub session_type_id: Uuid,
    pub client_id: Uuid,
    pub trainer_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `booked`, `waitlisted`, `cancelled` or `late_cancelled` (`checked_in`,
    /// `attended` and `no_show` are reserved for attendance).
    pub status: String,
    /// What happened: `booked`, `waitlisted`, `promoted`, `cancelled`, `late_cancelled`,
    /// `waitlist_closed` (the session started with the client still in line),
    /// `rescheduled`, `checked_in`, `attended` or `no_show`.
    pub change: String,
    /// Place in line while waitlisted (1 = next).
    pub waitlist_position: Option<i32>,
    /// Credits the session costs (its type's price).
    pub credits: i32,
    pub revision: i32,
}

pub const PACKAGE_PURCHASED_V1: &str = "fitsync.package.purchased.v1";
pub const CREDIT_CHANGED_V1: &str = "fitsync.credit.changed.v1";

/// A client paid for a package: revenue, and a lot of credits. Keyed by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagePurchased {
    pub purchase_id: Uuid,
    pub package_id: Uuid,
    pub client_id: Uuid,
    /// `trainer` or `gym`: who sold it (and whose session types the credits pay for).
    pub owner_kind: String,
    pub owner_id: Uuid,
    pub name: String,
    pub sessions: i32,
    pub price_cents: i64,
    pub currency: String,
    pub paid_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An entry of the credit ledger, and the balance it leaves. Keyed by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditChanged {
    pub entry_id: Uuid,
    pub client_id: Uuid,
    pub owner_id: Uuid,
    pub purchase_id: Uuid,
    pub booking_id: Option<Uuid>,
    /// `purchase`, `consume`, `refund`, `forfeit` or `expire`.
    pub kind: String,
    /// Credits in (positive) or out (negative); 0 for a forfeit.
    pub amount: i32,
    /// The client's balance with this owner after the entry.
    pub balance: i64,
}

pub const ROOM_SAVED_V1: &str = "fitsync.schedule.room_saved.v1";
pub const PACKAGE_SAVED_V1: &str = "fitsync.package.saved.v1";

/// A gym's room and its weekly hours. Keyed by the gym.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomSaved {
    pub room_id: Uuid,
    pub gym_id: Uuid,
    pub name: String,
    pub time_zone: String,
    pub hours: Vec<WeeklyHours>,
}

/// A package a trainer or a gym sells. Keyed by its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSaved {
    pub package_id: Uuid,
    /// `trainer` or `gym`.
    pub owner_kind: String,
    pub owner_id: Uuid,
    pub name: String,
    pub sessions: i32,
    pub validity_days: i32,
    pub price_cents: i64,
    pub currency: String,
}
