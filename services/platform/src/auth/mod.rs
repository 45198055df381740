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

use std::{collections::HashMap, sync::Mutex};

use crate::problem::ApiError;

/// Verifies a bearer token: signature, key id, issuer, audience, lifetime, and that it
/// was not revoked since.
///
/// A client sends the same token for minutes, so a token whose signature and claims were
/// verified is remembered (by its exact text) until it expires: the ECDSA check, most of
/// the cost, runs once per token instead of once per request. Revocation is still asked
/// on every request.
#[derive(Debug)]
pub struct Authenticator {
    keys: KeySet,
    revocations: Revocations,
    verified: Mutex<HashMap<String, Claims>>,
}

/// Verified tokens remembered at most; past it the memory starts over.
const VERIFIED_CAPACITY: usize = 50_000;

impl Authenticator {
    pub fn new(keys: KeySet, revocations: Revocations) -> Self {
        Self {
            keys,
            revocations,
            verified: Mutex::new(HashMap::new()),
        }
    }

    fn verify_cached(&self, token: &str) -> Result<Claims, ApiError> {
        let now = chrono::Utc::now().timestamp();
        {
            let verified = self
                .verified
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(claims) = verified.get(token) {
                if claims.exp > now {
                    return Ok(claims.clone());
                }
            }
        }
        let claims = self.keys.verify(token)?;
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= VERIFIED_CAPACITY {
            verified.retain(|_, c| c.exp > now);
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
        }
        verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    pub async fn authenticate(&self, token: &str) -> Result<Claims, ApiError> {
        let claims = self.verify_cached(token)?;
        if self.revocations.is_revoked(&claims).await? {
            return Err(ApiError::Unauthenticated);
        }
        Ok(claims)
    }
}
