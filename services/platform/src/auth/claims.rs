use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    Admin,
    /// A gym owner or manager.
    Gym,
    Trainer,
    Client,
    /// A service account (client-credentials grant), for service-to-service calls.
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Gym => "gym",
            Role::Trainer => "trainer",
            Role::Client => "client",
            Role::Service => "service",
        }
    }
}

/// An access token's claims. `jti` is a UUIDv7, so it also records the millisecond
/// the token was issued (what "log out everywhere" compares against).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gym: Option<Uuid>,
    /// A browser session's CSRF token (`POST /api/auth/session`): when the token comes
    /// from the session cookie, unsafe requests must repeat it in `X-CSRF-Token`. Signed
    /// into the token, so a cookie planted by a sibling origin cannot forge it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
}

impl Claims {
    /// Milliseconds since the epoch at which the token was issued (from the UUIDv7 jti).
    pub fn issued_at_ms(&self) -> i64 {
        self.jti
            .get_timestamp()
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                i64::try_from(secs).unwrap_or(0) * 1000 + i64::from(nanos / 1_000_000)
            })
            .unwrap_or(self.iat * 1000)
    }
}
