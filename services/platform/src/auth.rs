//! Access tokens: ES256-signed JWTs, and the extractor every handler authenticates with.
//!
//! The users service signs; every service verifies. In one `all` process both share the
//! key in memory; split targets verify with the same key material (the JWKS document
//! published by the users service describes it for gateways such as Istio).

use std::{fmt, sync::Arc};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64URL, Engine};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::{
    digest,
    rand::SystemRandom,
    signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{config::AuthSettings, problem::ApiError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    Admin,
    Gym,
    Trainer,
    Client,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Gym => "gym",
            Role::Trainer => "trainer",
            Role::Client => "client",
        }
    }
}

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
}

/// The signing key and everything derived from it.
pub struct TokenKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: serde_json::Value,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key is not a PKCS#8 PEM P-256 key")]
    BadKey,
    #[error("could not generate a key")]
    Generate,
}

impl TokenKeys {
    pub fn from_settings(settings: &AuthSettings) -> Result<Self, KeyError> {
        let pkcs8 = match &settings.signing_key_pem {
            Some(pem) => pem_to_der(pem.expose_secret()).ok_or(KeyError::BadKey)?,
            None => {
                tracing::warn!(
                    "auth.signing_key_pem not set: using a key generated for this process"
                );
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                    .map_err(|_| KeyError::Generate)?
                    .as_ref()
                    .to_vec()
            }
        };
        Self::from_pkcs8(&pkcs8, settings)
    }

    fn from_pkcs8(pkcs8: &[u8], settings: &AuthSettings) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| KeyError::BadKey)?;
        let point = pair.public_key().as_ref();
        let (x, y) = (B64URL.encode(&point[1..33]), B64URL.encode(&point[33..65]));
        let kid = B64URL.encode(&digest::digest(&digest::SHA256, point).as_ref()[..12]);
        let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|_| KeyError::BadKey)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Ok(Self {
            jwk: serde_json::json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
                "kid": kid, "x": x, "y": y,
            }),
            kid,
            encoding: EncodingKey::from_ec_der(pkcs8),
            decoding,
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl_secs: i64::try_from(settings.access_token_ttl_secs).unwrap_or(900),
        })
    }

    /// Issues an access token; returns it with its lifetime in seconds.
    pub fn issue(
        &self,
        sub: Uuid,
        role: Role,
        gym: Option<Uuid>,
    ) -> Result<(String, i64), ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub,
            iat: now,
            nbf: now,
            exp: now + self.ttl_secs,
            jti: Uuid::new_v4(),
            role,
            gym,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| anyhow::Error::new(e).context("signing a token"))?;
        Ok((token, self.ttl_secs))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthenticated)?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(ApiError::Unauthenticated);
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| ApiError::Unauthenticated)
    }

    /// The JWKS document gateways validate tokens with.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk] })
    }
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// An authenticated caller. Extracting it is the authentication; the methods below are
/// the authorization every handler calls.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

impl AuthUser {
    pub fn id(&self) -> Uuid {
        self.0.sub
    }

    pub fn role(&self) -> Role {
        self.0.role
    }

    /// Data that belongs to `owner` (a client's own workouts, progress, body metrics).
    /// Trainers and gyms gain access through relationships the users service owns;
    /// until those projections exist, only the owner and admins pass.
    pub fn may_read_client(&self, owner: Uuid) -> Result<(), ApiError> {
        match self.role() {
            Role::Admin => Ok(()),
            _ if self.id() == owner => Ok(()),
            _ => Err(ApiError::Forbidden),
        }
    }

    /// Only the client may write their own training log.
    pub fn may_write_client(&self, owner: Uuid) -> Result<(), ApiError> {
        if self.role() == Role::Client && self.id() == owner {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<TokenKeys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = Arc::<TokenKeys>::from_ref(state);
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthenticated)?;
        keys.verify(token.trim()).map(AuthUser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AuthSettings {
        AuthSettings {
            issuer: "https://issuer.test".into(),
            audience: "fitsync-api".into(),
            access_token_ttl_secs: 60,
            signing_key_pem: None,
        }
    }

    #[test]
    fn issued_tokens_verify_and_foreign_ones_do_not() {
        let keys = TokenKeys::from_settings(&settings()).unwrap();
        let other = TokenKeys::from_settings(&settings()).unwrap();
        let user = Uuid::new_v4();
        let (token, ttl) = keys.issue(user, Role::Client, None).unwrap();
        assert_eq!(ttl, 60);
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.role), (user, Role::Client));
        assert!(other.verify(&token).is_err());
        assert!(keys.verify("not.a.token").is_err());
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        let keys = TokenKeys::from_settings(&settings()).unwrap();
        let (token, _) = keys.issue(Uuid::new_v4(), Role::Admin, None).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let header = B64URL.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, keys.kid));
        assert!(keys.verify(&format!("{header}.{}.", parts[1])).is_err());
    }

    #[test]
    fn jwks_names_the_signing_key() {
        let keys = TokenKeys::from_settings(&settings()).unwrap();
        let jwks = keys.jwks();
        assert_eq!(jwks["keys"][0]["kid"], keys.kid.as_str());
        assert_eq!(jwks["keys"][0]["crv"], "P-256");
    }
}
