//! Access tokens and the authorization every handler performs.
//!
//! - `keys`: ES256 signing key, retired keys that still verify, the JWKS document.
//! - `jwks`: verification with the published keys, where the signing key is not held.
//! - `claims`: what a token says (`Claims`, `Role`).
//! - `revocation`: logout and "log out everywhere" in Redis, checked on every request.
//! - `user`: the `AuthUser` extractor and the policy methods handlers call.

mod access;
mod claims;
mod jwks;
mod keys;
mod revocation;
mod user;

pub use access::{Grants, Relationships};
pub use claims::{Claims, Role};
pub use jwks::RemoteKeys;
pub use keys::{generate_pem, KeyError, KeySet};
pub use revocation::Revocations;
pub use user::{cookie, cookies, same_bytes, AuthUser};

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

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
    keys: Verifier,
    revocations: Revocations,
    verified: Mutex<HashMap<String, Claims>>,
    access_max_staleness_secs: f64,
}

/// Where verifying keys come from: the signing key set itself (the process runs the
/// users service), or the users service's JWKS document (every other process).
#[derive(Debug, Clone)]
pub enum Verifier {
    Local(Arc<KeySet>),
    Remote(Arc<RemoteKeys>),
}

impl Verifier {
    async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        match self {
            Verifier::Local(keys) => keys.verify(token),
            Verifier::Remote(keys) => keys.verify(token).await,
        }
    }

    /// Whether tokens can be verified now.
    pub async fn ready(&self) -> bool {
        match self {
            Verifier::Local(_) => true,
            Verifier::Remote(keys) => keys.ready().await,
        }
    }
}

/// Verified tokens remembered at most; past it the memory starts over.
const VERIFIED_CAPACITY: usize = 50_000;

impl Authenticator {
    pub fn new(keys: Verifier, revocations: Revocations) -> Self {
        Self {
            keys,
            revocations,
            verified: Mutex::new(HashMap::new()),
            access_max_staleness_secs: 30.0,
        }
    }

    /// How far behind the users service an access projection may be (see `Grants`).
    pub fn with_access_max_staleness(mut self, secs: u64) -> Self {
        self.access_max_staleness_secs = secs as f64;
        self
    }

    pub fn access_max_staleness_secs(&self) -> f64 {
        self.access_max_staleness_secs
    }

    async fn verify_cached(&self, token: &str) -> Result<Claims, ApiError> {
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
        let claims = self.keys.verify(token).await?;
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

    pub fn verifier(&self) -> &Verifier {
        &self.keys
    }

    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    pub async fn authenticate(&self, token: &str) -> Result<Claims, ApiError> {
        let claims = self.verify_cached(token).await?;
        if self.revocations.is_revoked(&claims).await? {
            return Err(ApiError::Unauthenticated);
        }
        Ok(claims)
    }
}
