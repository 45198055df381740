//! The event contract: the CloudEvents envelope every service emits through its outbox,
//! the typed payloads, and the topic names. JSON Schemas for every event type live in
//! `schemas/` beside this crate; tests validate every producer against them.

mod access;
mod alerts;
mod diet;
mod envelope;
mod exercises;
mod notifications;
mod progress;
mod schedule;
mod topics;
mod training;
mod users;

pub use access::{
    GymMembershipChanged, HealthDataRead, Heartbeat, RelationshipChanged, GYM_MEMBER_JOINED_V1,
    GYM_MEMBER_LEFT_V1, HEALTH_DATA_READ_V1, HEARTBEAT_V1, RELATIONSHIP_ENDED_V1,
    RELATIONSHIP_STARTED_V1,
};
pub use alerts::{
    PersonalRecord, Plateau, WeeklySummary, WeightChange, WorkloadSpike, WorkoutMissed,
    MISSED_NEWS_DAYS, PERSONAL_RECORD_V1, PLATEAU_V1, TUNABLE_RULES, WEEKLY_SUMMARY_V1,
    WEIGHT_CHANGE_FLOOR, WEIGHT_CHANGE_V1, WORKLOAD_SPIKE_FLOOR, WORKLOAD_SPIKE_V1,
    WORKOUT_MISSED_V1,
};
pub use diet::{
    DietAssignmentChanged, DietSaved, FoodDeleted, FoodLogged, Nutrients,
    DIET_ASSIGNMENT_CHANGED_V1, DIET_SAVED_V1, FOOD_DELETED_V1, FOOD_LOGGED_V1,
};
pub use envelope::{CloudEvent, EnvelopeError, SPEC_VERSION};
pub use exercises::{
    Category, Equipment, ExerciseDefined, Force, Level, Mechanic, Muscle, OwnerKind,
    EXERCISE_DEFINED_V1, LIBRARY_KEY,
};
pub use notifications::{
    AddressVerified, AlertDeliveryChanged, EmailRequested, EmailTemplate, ADDRESS_VERIFIED_V1,
    ALERT_DELIVERY_V1, EMAIL_REQUESTED_V2,
};
pub use progress::{
    GoalChanged, MeasurementDeleted, MeasurementRecorded, GOAL_CHANGED_V1, MEASUREMENT_DELETED_V1,
    MEASUREMENT_RECORDED_V1,
};
pub use schedule::{
    AvailabilityChanged, BookingChanged, CreditChanged, DateException, PackagePurchased,
    PackageSaved, RoomSaved, SessionChanged, SessionTypeSaved, WeeklyHours,
    AVAILABILITY_CHANGED_V1, BOOKING_CHANGED_V1, CREDIT_CHANGED_V1, PACKAGE_PURCHASED_V1,
    PACKAGE_SAVED_V1, ROOM_SAVED_V1, SESSION_CHANGED_V1, SESSION_TYPE_SAVED_V1,
};
pub use topics::{Topic, Topics};
pub use training::{
    CommentAdded, PlanChanged, PlannedWorkout, ProgramSaved, SetCorrected, SetDeleted, SetLogged,
    WorkoutChanged, COMMENT_ADDED_V1, PLAN_CHANGED_V1, PROGRAM_SAVED_V1, SET_CORRECTED_V1,
    SET_CORRECTED_V2, SET_DELETED_V1, SET_LOGGED_V1, SET_LOGGED_V2, WORKOUT_CHANGED_V1,
};
pub use users::{UserRegistered, USER_REGISTERED_V1};

/// Every event type FitSync produces. A type missing here has no schema test.
pub const EVENT_TYPES: [&str; 39] = [
    USER_REGISTERED_V1,
    RELATIONSHIP_STARTED_V1,
    RELATIONSHIP_ENDED_V1,
    GYM_MEMBER_JOINED_V1,
    GYM_MEMBER_LEFT_V1,
    HEALTH_DATA_READ_V1,
    SET_LOGGED_V2,
    SET_CORRECTED_V2,
    SET_DELETED_V1,
    WORKOUT_CHANGED_V1,
    COMMENT_ADDED_V1,
    EXERCISE_DEFINED_V1,
    PROGRAM_SAVED_V1,
    PLAN_CHANGED_V1,
    DIET_SAVED_V1,
    DIET_ASSIGNMENT_CHANGED_V1,
    FOOD_LOGGED_V1,
    FOOD_DELETED_V1,
    AVAILABILITY_CHANGED_V1,
    SESSION_TYPE_SAVED_V1,
    ROOM_SAVED_V1,
    SESSION_CHANGED_V1,
    BOOKING_CHANGED_V1,
    PACKAGE_SAVED_V1,
    PACKAGE_PURCHASED_V1,
    CREDIT_CHANGED_V1,
    MEASUREMENT_RECORDED_V1,
    MEASUREMENT_DELETED_V1,
    GOAL_CHANGED_V1,
    EMAIL_REQUESTED_V2,
    ADDRESS_VERIFIED_V1,
    ALERT_DELIVERY_V1,
    HEARTBEAT_V1,
    PERSONAL_RECORD_V1,
    WORKLOAD_SPIKE_V1,
    WORKOUT_MISSED_V1,
    WEIGHT_CHANGE_V1,
    WEEKLY_SUMMARY_V1,
    PLATEAU_V1,
];

/// Types no longer produced whose events consumers still read (a replay of an old log).
pub const RETIRED_EVENT_TYPES: [&str; 2] = [SET_LOGGED_V1, SET_CORRECTED_V1];

/// The JSON Schema of an event type, by its `type` attribute.
pub fn schema_for(event_type: &str) -> Option<&'static str> {
    match event_type {
        SET_LOGGED_V1 => Some(include_str!(
            "../schemas/fitsync.workout.set_logged.v1.json"
        )),
        SET_CORRECTED_V1 => Some(include_str!(
            "../schemas/fitsync.workout.set_corrected.v1.json"
        )),
        SET_LOGGED_V2 => Some(include_str!(
            "../schemas/fitsync.workout.set_logged.v2.json"
        )),
        SET_CORRECTED_V2 => Some(include_str!(
            "../schemas/fitsync.workout.set_corrected.v2.json"
        )),
        WORKOUT_CHANGED_V1 => Some(include_str!(
            "../schemas/fitsync.workout.session_changed.v1.json"
        )),
        COMMENT_ADDED_V1 => Some(include_str!(
            "../schemas/fitsync.workout.comment_added.v1.json"
        )),
        SET_DELETED_V1 => Some(include_str!(
            "../schemas/fitsync.workout.set_deleted.v1.json"
        )),
        PROGRAM_SAVED_V1 => Some(include_str!(
            "../schemas/fitsync.program.template_saved.v1.json"
        )),
        PLAN_CHANGED_V1 => Some(include_str!(
            "../schemas/fitsync.program.plan_changed.v1.json"
        )),
        DIET_SAVED_V1 => Some(include_str!("../schemas/fitsync.diet.plan_saved.v1.json")),
        DIET_ASSIGNMENT_CHANGED_V1 => Some(include_str!(
            "../schemas/fitsync.diet.assignment_changed.v1.json"
        )),
        FOOD_LOGGED_V1 => Some(include_str!("../schemas/fitsync.diet.food_logged.v1.json")),
        FOOD_DELETED_V1 => Some(include_str!("../schemas/fitsync.diet.food_deleted.v1.json")),
        EXERCISE_DEFINED_V1 => Some(include_str!("../schemas/fitsync.exercise.defined.v1.json")),
        USER_REGISTERED_V1 => Some(include_str!("../schemas/fitsync.user.registered.v1.json")),
        RELATIONSHIP_STARTED_V1 | RELATIONSHIP_ENDED_V1 => Some(include_str!(
            "../schemas/fitsync.relationship.changed.v1.json"
        )),
        HEALTH_DATA_READ_V1 => Some(include_str!(
            "../schemas/fitsync.audit.health_data_read.v1.json"
        )),
        EMAIL_REQUESTED_V2 => Some(include_str!(
            "../schemas/fitsync.notification.email_requested.v2.json"
        )),
        ADDRESS_VERIFIED_V1 => Some(include_str!(
            "../schemas/fitsync.notification.address_verified.v1.json"
        )),
        ALERT_DELIVERY_V1 => Some(include_str!(
            "../schemas/fitsync.notification.alert_delivery.v1.json"
        )),
        GYM_MEMBER_JOINED_V1 | GYM_MEMBER_LEFT_V1 => {
            Some(include_str!("../schemas/fitsync.gym.membership.v1.json"))
        }
        HEARTBEAT_V1 => Some(include_str!("../schemas/fitsync.stream.heartbeat.v1.json")),
        AVAILABILITY_CHANGED_V1 => Some(include_str!(
            "../schemas/fitsync.schedule.availability_changed.v1.json"
        )),
        SESSION_TYPE_SAVED_V1 => Some(include_str!(
            "../schemas/fitsync.schedule.session_type_saved.v1.json"
        )),
        SESSION_CHANGED_V1 => Some(include_str!(
            "../schemas/fitsync.schedule.session_changed.v1.json"
        )),
        BOOKING_CHANGED_V1 => Some(include_str!("../schemas/fitsync.booking.changed.v1.json")),
        PACKAGE_PURCHASED_V1 => Some(include_str!("../schemas/fitsync.package.purchased.v1.json")),
        CREDIT_CHANGED_V1 => Some(include_str!("../schemas/fitsync.credit.changed.v1.json")),
        ROOM_SAVED_V1 => Some(include_str!(
            "../schemas/fitsync.schedule.room_saved.v1.json"
        )),
        PACKAGE_SAVED_V1 => Some(include_str!("../schemas/fitsync.package.saved.v1.json")),
        MEASUREMENT_RECORDED_V1 => Some(include_str!(
            "../schemas/fitsync.metric.measurement_recorded.v1.json"
        )),
        MEASUREMENT_DELETED_V1 => Some(include_str!(
            "../schemas/fitsync.metric.measurement_deleted.v1.json"
        )),
        GOAL_CHANGED_V1 => Some(include_str!("../schemas/fitsync.goal.changed.v1.json")),
        PERSONAL_RECORD_V1 => Some(include_str!(
            "../schemas/fitsync.progress.personal_record.v1.json"
        )),
        WORKLOAD_SPIKE_V1 => Some(include_str!(
            "../schemas/fitsync.progress.workload_spike.v1.json"
        )),
        WORKOUT_MISSED_V1 => Some(include_str!(
            "../schemas/fitsync.progress.workout_missed.v1.json"
        )),
        WEIGHT_CHANGE_V1 => Some(include_str!(
            "../schemas/fitsync.progress.weight_change.v1.json"
        )),
        WEEKLY_SUMMARY_V1 => Some(include_str!(
            "../schemas/fitsync.progress.weekly_summary.v1.json"
        )),
        PLATEAU_V1 => Some(include_str!("../schemas/fitsync.progress.plateau.v1.json")),
        _ => None,
    }
}

/// The JSON Schema of the CloudEvents envelope FitSync emits.
pub const ENVELOPE_SCHEMA: &str = include_str!("../schemas/cloudevent.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_a_schema_that_parses() {
        for event_type in EVENT_TYPES.iter().chain(&RETIRED_EVENT_TYPES) {
            let schema = schema_for(event_type).unwrap_or_else(|| panic!("{event_type}"));
            let schema: serde_json::Value = serde_json::from_str(schema).unwrap();
            assert_eq!(schema["type"], "object", "{event_type}");
        }
        let schemas = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas"))
            .unwrap()
            .count();
        // One file per type (retired ones too), except where two types share one
        // (started/ended, joined/left), plus the envelope.
        assert_eq!(
            schemas,
            EVENT_TYPES.len() + RETIRED_EVENT_TYPES.len() - 2 + 1
        );
    }
}
