use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

pub const SPEC_VERSION: &str = "1.0";

/// A CloudEvents 1.0 event in structured JSON mode.
///
/// `id` is unique per event and stable across re-publication, so consumers deduplicate
/// on it; `subject` names the aggregate that orders the events (for progress data, the
/// client) and is also the Kafka key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudEvent<T = serde_json::Value> {
    pub specversion: String,
    pub id: Uuid,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub subject: String,
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    pub data: T,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a CloudEvents JSON envelope: {0}")]
    Envelope(serde_json::Error),
    #[error("unsupported specversion {0:?}")]
    SpecVersion(String),
    #[error("event type {found:?} where {expected:?} was expected")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("payload of {event_type} does not match its schema: {source}")]
    Payload {
        event_type: String,
        source: serde_json::Error,
    },
}

impl<T: Serialize> CloudEvent<T> {
    pub fn new(source: &str, event_type: &str, subject: String, data: T) -> Self {
        Self {
            specversion: SPEC_VERSION.to_owned(),
            id: Uuid::now_v7(),
            source: source.to_owned(),
            event_type: event_type.to_owned(),
            subject,
            time: Utc::now(),
            datacontenttype: "application/json".to_owned(),
            data,
        }
    }
}

impl CloudEvent<serde_json::Value> {
    /// Decodes the envelope only; the payload stays raw until the consumer knows its type.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let event: Self = serde_json::from_slice(bytes).map_err(EnvelopeError::Envelope)?;
        if event.specversion != SPEC_VERSION {
            return Err(EnvelopeError::SpecVersion(event.specversion));
        }
        Ok(event)
    }

    /// Decodes the payload as `T`, checking the type attribute first.
    pub fn payload<T: DeserializeOwned>(&self, expected: &'static str) -> Result<T, EnvelopeError> {
        if self.event_type != expected {
            return Err(EnvelopeError::WrongType {
                expected,
                found: self.event_type.clone(),
            });
        }
        T::deserialize(&self.data).map_err(|source| EnvelopeError::Payload {
            event_type: self.event_type.clone(),
            source,
        })
    }
}
