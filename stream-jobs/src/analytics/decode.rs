//! Transform: a Kafka message → a validated change the job applies, or the reason it is
//! not one.

use fitsync_events::{
    AvailabilityChanged, BookingChanged, GymMembershipChanged, PackagePurchased, PlanChanged,
    RelationshipChanged, SessionChanged, SessionTypeSaved, WorkoutChanged, AVAILABILITY_CHANGED_V1,
    BOOKING_CHANGED_V1, GYM_MEMBER_JOINED_V1, GYM_MEMBER_LEFT_V1, PACKAGE_PURCHASED_V1,
    PLAN_CHANGED_V1, RELATIONSHIP_ENDED_V1, RELATIONSHIP_STARTED_V1, SESSION_CHANGED_V1,
    SESSION_TYPE_SAVED_V1, WORKOUT_CHANGED_V1,
};
use fitsync_events::{
    CloudEvent, DietAssignmentChanged, ExerciseDefined, FoodDeleted, FoodLogged,
    MeasurementDeleted, MeasurementRecorded, SetCorrected, SetDeleted, SetLogged,
    DIET_ASSIGNMENT_CHANGED_V1, EXERCISE_DEFINED_V1, FOOD_DELETED_V1, FOOD_LOGGED_V1,
    MEASUREMENT_DELETED_V1, MEASUREMENT_RECORDED_V1, SET_CORRECTED_V1, SET_CORRECTED_V2,
    SET_DELETED_V1, SET_LOGGED_V1, SET_LOGGED_V2,
};
use rdkafka::{message::OwnedMessage, Message};
use uuid::Uuid;

/// A set as it now stands (`deleted`: it no longer counts), at `revision` of its changes.
#[derive(Debug, Clone)]
pub struct SetChange {
    pub set: SetLogged,
    pub revision: i32,
    pub deleted: bool,
}

/// A food entry as it now stands: logged (revision 1) or deleted (revision 2).
#[derive(Debug, Clone)]
pub struct FoodChange {
    pub entry_id: Uuid,
    pub client_id: Uuid,
    pub revision: i32,
    /// The entry; `None` once deleted.
    pub logged: Option<FoodLogged>,
}

/// A body measurement as it now stands: recorded (revision 1) or deleted (revision 2).
#[derive(Debug, Clone)]
pub struct MeasurementChange {
    pub measurement_id: Uuid,
    pub client_id: Uuid,
    pub revision: i32,
    /// The measurement; `None` once deleted.
    pub recorded: Option<MeasurementRecorded>,
}

pub enum Decoded {
    Set {
        event_id: Uuid,
        /// When the event was created, in the same transaction as the change.
        time: chrono::DateTime<chrono::Utc>,
        change: SetChange,
    },
    Exercise(ExerciseDefined),
    Food {
        event_id: Uuid,
        change: FoodChange,
    },
    DietTargets(DietAssignmentChanged),
    Measurement {
        event_id: Uuid,
        change: MeasurementChange,
    },
    Plan(PlanChanged),
    Workout(WorkoutChanged),
    Booking(BookingChanged),
    /// A gym membership began (`true`) or ended.
    Member(GymMembershipChanged, bool),
    /// A trainer–client relationship began (`true`) or ended.
    Coaching(RelationshipChanged, bool),
    Session(SessionChanged),
    SessionType(SessionTypeSaved),
    Availability(AvailabilityChanged),
    Purchase(PackagePurchased),
    /// A valid event of a type this job does not use.
    Other,
}

fn check_subject(event: &CloudEvent, client: Uuid) -> Result<(), String> {
    if event.subject == client.to_string() {
        Ok(())
    } else {
        Err("subject is not the set's client".into())
    }
}

/// The e1RM counts reps in reserve: given, or from RPE.
fn effort_as_rir(mut set: SetLogged) -> SetLogged {
    set.rir = set.reps_in_reserve();
    set
}

pub fn decode(message: &OwnedMessage) -> Result<Decoded, String> {
    let payload = message.payload().ok_or("empty payload")?;
    let event = CloudEvent::from_slice(payload).map_err(|e| e.to_string())?;
    let change = match event.event_type.as_str() {
        // v1 (retired) decodes with v2's fields absent.
        t @ (SET_LOGGED_V1 | SET_LOGGED_V2) => {
            let t = if t == SET_LOGGED_V1 {
                SET_LOGGED_V1
            } else {
                SET_LOGGED_V2
            };
            let set: SetLogged = event.payload(t).map_err(|e| e.to_string())?;
            set.validate().map_err(|e| format!("invalid {t}: {e}"))?;
            SetChange {
                set: effort_as_rir(set),
                revision: 1,
                deleted: false,
            }
        }
        t @ (SET_CORRECTED_V1 | SET_CORRECTED_V2) => {
            let t = if t == SET_CORRECTED_V1 {
                SET_CORRECTED_V1
            } else {
                SET_CORRECTED_V2
            };
            let c: SetCorrected = event.payload(t).map_err(|e| e.to_string())?;
            c.validate().map_err(|e| format!("invalid {t}: {e}"))?;
            SetChange {
                set: effort_as_rir(c.as_logged()),
                revision: c.revision,
                deleted: false,
            }
        }
        SET_DELETED_V1 => {
            let d: SetDeleted = event.payload(SET_DELETED_V1).map_err(|e| e.to_string())?;
            if d.revision < 2 {
                return Err(format!("invalid {SET_DELETED_V1}: revision below 2"));
            }
            // What the set was is in the fact the job holds; a tombstone needs no values.
            SetChange {
                set: SetLogged {
                    set_id: d.set_id,
                    client_id: d.client_id,
                    exercise: String::new(),
                    reps: 0,
                    weight_kg: 0.0,
                    rir: None,
                    performed_at: event.time,
                    workout_id: None,
                    rpe: None,
                    failed: false,
                    local_date: None,
                },
                revision: d.revision,
                deleted: true,
            }
        }
        EXERCISE_DEFINED_V1 => {
            let e: ExerciseDefined = event
                .payload(EXERCISE_DEFINED_V1)
                .map_err(|e| e.to_string())?;
            if e.revision < 1 || e.primary_muscles.is_empty() {
                return Err(format!(
                    "invalid {EXERCISE_DEFINED_V1}: no revision or muscles"
                ));
            }
            return Ok(Decoded::Exercise(e));
        }
        FOOD_LOGGED_V1 => {
            let f: FoodLogged = event.payload(FOOD_LOGGED_V1).map_err(|e| e.to_string())?;
            f.validate()
                .map_err(|e| format!("invalid {FOOD_LOGGED_V1}: {e}"))?;
            check_subject(&event, f.client_id)?;
            return Ok(Decoded::Food {
                event_id: event.id,
                change: FoodChange {
                    entry_id: f.entry_id,
                    client_id: f.client_id,
                    revision: 1,
                    logged: Some(f),
                },
            });
        }
        FOOD_DELETED_V1 => {
            let d: FoodDeleted = event.payload(FOOD_DELETED_V1).map_err(|e| e.to_string())?;
            if d.revision < 2 {
                return Err(format!("invalid {FOOD_DELETED_V1}: revision below 2"));
            }
            check_subject(&event, d.client_id)?;
            return Ok(Decoded::Food {
                event_id: event.id,
                change: FoodChange {
                    entry_id: d.entry_id,
                    client_id: d.client_id,
                    revision: d.revision,
                    logged: None,
                },
            });
        }
        DIET_ASSIGNMENT_CHANGED_V1 => {
            let a: DietAssignmentChanged = event
                .payload(DIET_ASSIGNMENT_CHANGED_V1)
                .map_err(|e| e.to_string())?;
            if a.revision < 1
                // An assignment ended before it started ends the day before: void.
                || a.end_date.is_some_and(|end| {
                    end.checked_add_days(chrono::Days::new(1))
                        .is_none_or(|next| next < a.start_date)
                })
                || a.targets
                    .values()
                    .iter()
                    .any(|v| !v.is_finite() || *v < 0.0)
            {
                return Err(format!(
                    "invalid {DIET_ASSIGNMENT_CHANGED_V1}: revision, dates or targets"
                ));
            }
            check_subject(&event, a.client_id)?;
            return Ok(Decoded::DietTargets(a));
        }
        MEASUREMENT_RECORDED_V1 => {
            let m: MeasurementRecorded = event
                .payload(MEASUREMENT_RECORDED_V1)
                .map_err(|e| e.to_string())?;
            m.validate()
                .map_err(|e| format!("invalid {MEASUREMENT_RECORDED_V1}: {e}"))?;
            check_subject(&event, m.client_id)?;
            return Ok(Decoded::Measurement {
                event_id: event.id,
                change: MeasurementChange {
                    measurement_id: m.measurement_id,
                    client_id: m.client_id,
                    revision: 1,
                    recorded: Some(m),
                },
            });
        }
        MEASUREMENT_DELETED_V1 => {
            let d: MeasurementDeleted = event
                .payload(MEASUREMENT_DELETED_V1)
                .map_err(|e| e.to_string())?;
            if d.revision < 2 {
                return Err(format!(
                    "invalid {MEASUREMENT_DELETED_V1}: revision below 2"
                ));
            }
            check_subject(&event, d.client_id)?;
            return Ok(Decoded::Measurement {
                event_id: event.id,
                change: MeasurementChange {
                    measurement_id: d.measurement_id,
                    client_id: d.client_id,
                    revision: d.revision,
                    recorded: None,
                },
            });
        }
        PLAN_CHANGED_V1 => {
            let p: PlanChanged = event.payload(PLAN_CHANGED_V1).map_err(|e| e.to_string())?;
            if p.revision < 1 {
                return Err(format!("invalid {PLAN_CHANGED_V1}: revision below 1"));
            }
            check_subject(&event, p.client_id)?;
            return Ok(Decoded::Plan(p));
        }
        WORKOUT_CHANGED_V1 => {
            let w: WorkoutChanged = event
                .payload(WORKOUT_CHANGED_V1)
                .map_err(|e| e.to_string())?;
            if w.revision < 1 {
                return Err(format!("invalid {WORKOUT_CHANGED_V1}: revision below 1"));
            }
            check_subject(&event, w.client_id)?;
            return Ok(Decoded::Workout(w));
        }
        BOOKING_CHANGED_V1 => {
            let b: BookingChanged = event
                .payload(BOOKING_CHANGED_V1)
                .map_err(|e| e.to_string())?;
            if b.revision < 1 {
                return Err(format!("invalid {BOOKING_CHANGED_V1}: revision below 1"));
            }
            return Ok(Decoded::Booking(b));
        }
        t @ (GYM_MEMBER_JOINED_V1 | GYM_MEMBER_LEFT_V1) => {
            let joined = t == GYM_MEMBER_JOINED_V1;
            let m: GymMembershipChanged = event
                .payload(if joined {
                    GYM_MEMBER_JOINED_V1
                } else {
                    GYM_MEMBER_LEFT_V1
                })
                .map_err(|e| e.to_string())?;
            check_subject(&event, m.user_id)?;
            return Ok(Decoded::Member(m, joined));
        }
        t @ (RELATIONSHIP_STARTED_V1 | RELATIONSHIP_ENDED_V1) => {
            let started = t == RELATIONSHIP_STARTED_V1;
            let r: RelationshipChanged = event
                .payload(if started {
                    RELATIONSHIP_STARTED_V1
                } else {
                    RELATIONSHIP_ENDED_V1
                })
                .map_err(|e| e.to_string())?;
            check_subject(&event, r.client_id)?;
            return Ok(Decoded::Coaching(r, started));
        }
        SESSION_CHANGED_V1 => {
            let s: SessionChanged = event
                .payload(SESSION_CHANGED_V1)
                .map_err(|e| e.to_string())?;
            if s.revision < 1 || s.ends_at < s.starts_at {
                return Err(format!("invalid {SESSION_CHANGED_V1}: revision or times"));
            }
            return Ok(Decoded::Session(s));
        }
        SESSION_TYPE_SAVED_V1 => {
            let t: SessionTypeSaved = event
                .payload(SESSION_TYPE_SAVED_V1)
                .map_err(|e| e.to_string())?;
            return Ok(Decoded::SessionType(t));
        }
        AVAILABILITY_CHANGED_V1 => {
            let a: AvailabilityChanged = event
                .payload(AVAILABILITY_CHANGED_V1)
                .map_err(|e| e.to_string())?;
            a.time_zone
                .parse::<chrono_tz::Tz>()
                .map_err(|_| format!("invalid {AVAILABILITY_CHANGED_V1}: time zone"))?;
            // `HH:MM` (or `24:00`), in order (such times compare as text).
            let hhmm =
                |t: &str| chrono::NaiveTime::parse_from_str(t, "%H:%M").is_ok() || t == "24:00";
            let span = |starts: &str, ends: &str| hhmm(starts) && hhmm(ends) && starts < ends;
            let hours_ok = a.weekly.iter().all(|w| span(&w.starts, &w.ends))
                && a.exceptions.iter().all(|e| match (&e.starts, &e.ends) {
                    (Some(s), Some(t)) => span(s, t),
                    (None, None) => true,
                    _ => false,
                });
            if a.revision < 1 || !hours_ok {
                return Err(format!(
                    "invalid {AVAILABILITY_CHANGED_V1}: revision or hours"
                ));
            }
            return Ok(Decoded::Availability(a));
        }
        PACKAGE_PURCHASED_V1 => {
            let p: PackagePurchased = event
                .payload(PACKAGE_PURCHASED_V1)
                .map_err(|e| e.to_string())?;
            check_subject(&event, p.client_id)?;
            return Ok(Decoded::Purchase(p));
        }
        _ => return Ok(Decoded::Other),
    };
    check_subject(&event, change.set.client_id)?;
    Ok(Decoded::Set {
        event_id: event.id,
        time: event.time,
        change,
    })
}
