//! Access tokens and the authorization every handler performs.
//!
//! - `keys`: ES256 signing key, retired keys that still verify, the JWKS document.
//! - `claims`: what a token says (`Claims`, `Role`).
//! - `revocation`: logout and "log out everywhere" in Redis, checked on every request.
//! - `user`: the `AuthUser` extractor and the policy methods handlers call.

mod access;
mod claims;
mod keys;
mod revocation;
mod user;

pub use access::{Grants, Relationships};
pub use claims::{Claims, Role};
pub use keys::{generate_pem, KeyError, KeySet};
pub use revocation::Revocations;
pub use user::AuthUser;

use crate::problem::ApiError;

/// Verifies a bearer token: signature, key id, issuer, audience, lifetime, and that it
/// was not revoked since.
#[derive(Debug)]
pub struct Authenticator {
    keys: KeySet,
    revocations: Revocations,
}

impl Authenticator {
    pub fn new(keys: KeySet, revocations: Revocations) -> Self {
        Self { keys, revocations }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    pub async fn authenticate(&self, token: &str) -> Result<Claims, ApiError> {
        let claims = self.keys.verify(token)?;
        if self.revocations.is_revoked(&claims).await? {
            return Err(ApiError::Unauthenticated);
        }
        Ok(claims)
    }
}
