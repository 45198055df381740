//! Transform: a Kafka message → a validated `set_logged` event, or the reason it is not one.

use fitsync_events::{CloudEvent, SetLogged, SET_LOGGED_V1};
use rdkafka::{message::OwnedMessage, Message};
use uuid::Uuid;

pub enum Decoded {
    Set {
        event_id: Uuid,
        /// When the event was created, in the same transaction as the set.
        time: chrono::DateTime<chrono::Utc>,
        set: SetLogged,
    },
    /// A valid event of a type this job does not use.
    Other,
}

pub fn decode(message: &OwnedMessage) -> Result<Decoded, String> {
    let payload = message.payload().ok_or("empty payload")?;
    let event = CloudEvent::from_slice(payload).map_err(|e| e.to_string())?;
    if event.event_type != SET_LOGGED_V1 {
        return Ok(Decoded::Other);
    }
    let set: SetLogged = event.payload(SET_LOGGED_V1).map_err(|e| e.to_string())?;
    set.validate()
        .map_err(|e| format!("invalid {SET_LOGGED_V1}: {e}"))?;
    if event.subject != set.client_id.to_string() {
        return Err("subject is not the set's client".into());
    }
    Ok(Decoded::Set {
        event_id: event.id,
        time: event.time,
        set,
    })
}
