//! Signing and verification keys (ES256). One key signs; retired keys keep verifying
//! the tokens they signed until those expire, so a key rotates without downtime:
//! deploy the new key as `auth.signing_key_pem` and move the old one to
//! `auth.retired_keys_pem`; drop it from there after one access-token lifetime.

use std::{collections::HashMap, fmt};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64URL, Engine};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::{
    digest,
    rand::SystemRandom,
    signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::claims::{Claims, Role};
use crate::{config::AuthSettings, problem::ApiError};

struct VerifyingKey {
    decoding: DecodingKey,
    jwk: serde_json::Value,
}

pub struct KeySet {
    kid: String,
    encoding: EncodingKey,
    verifying: HashMap<String, VerifyingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("kid", &self.kid)
            .field("verifying", &self.verifying.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a signing key is not a PKCS#8 PEM P-256 key")]
    BadKey,
    #[error("could not generate a key")]
    Generate,
    #[error(
        "auth.signing_key_pem is required wherever the users service runs outside `--target all` \
         (generate one with `fitsync keygen`)"
    )]
    Missing,
}

/// A new P-256 key as PKCS#8 PEM (`fitsync keygen`, and tests).
pub fn generate_pem() -> Result<String, KeyError> {
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|_| KeyError::Generate)?;
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Ok(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    ))
}

/// What every verifier checks besides the signature: ES256 only, issuer, audience,
/// expiry and not-before (5 s leeway).
pub(crate) fn validation(settings: &AuthSettings) -> Validation {
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 5;
    validation
}

impl KeySet {
    /// The signing key of `settings`. Without one, only a single `all` process may run
    /// (`allow_generated`): a key generated per process would make every other
    /// process refuse its tokens, and every token die with it.
    pub fn from_settings(settings: &AuthSettings, allow_generated: bool) -> Result<Self, KeyError> {
        let signing = match &settings.signing_key_pem {
            Some(pem) => pem_to_der(pem.expose_secret()).ok_or(KeyError::BadKey)?,
            None if !allow_generated => return Err(KeyError::Missing),
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
        let (kid, current) = verifying_key(&signing)?;
        let mut verifying = HashMap::from([(kid.clone(), current)]);
        for pem in &settings.retired_keys_pem {
            let der = pem_to_der(pem.expose_secret()).ok_or(KeyError::BadKey)?;
            let (kid, key) = verifying_key(&der)?;
            verifying.insert(kid, key);
        }
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ec_der(&signing),
            verifying,
            validation: validation(settings),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl_secs: i64::try_from(settings.access_token_ttl_secs).unwrap_or(900),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Issues an access token; returns it with its lifetime in seconds.
    pub fn issue(
        &self,
        sub: Uuid,
        role: Role,
        gym: Option<Uuid>,
    ) -> Result<(String, i64), ApiError> {
        self.issue_with_csrf(sub, role, gym, None)
    }

    /// Issues a browser session's access token, bound to its CSRF token.
    pub fn issue_with_csrf(
        &self,
        sub: Uuid,
        role: Role,
        gym: Option<Uuid>,
        csrf: Option<String>,
    ) -> Result<(String, i64), ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub,
            iat: now,
            nbf: now,
            exp: now + self.ttl_secs,
            jti: Uuid::now_v7(),
            role,
            gym,
            csrf,
        };
        Ok((self.sign(&claims)?, self.ttl_secs))
    }

    /// Signs arbitrary claims with the current key (tests build bad tokens with it).
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e).context("signing a token")))
    }

    /// Checks signature (by `kid`), algorithm, issuer, audience, expiry and not-before.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthenticated)?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verifying.get(kid))
            .ok_or(ApiError::Unauthenticated)?;
        jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| ApiError::Unauthenticated)
    }

    /// The JWKS document gateways validate tokens with: every key that verifies.
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys: Vec<&VerifyingKey> = self.verifying.values().collect();
        // The signing key first, then the retired ones in a stable order.
        keys.sort_by_key(|k| (k.jwk["kid"] != self.kid.as_str(), k.jwk["kid"].to_string()));
        serde_json::json!({ "keys": keys.iter().map(|k| &k.jwk).collect::<Vec<_>>() })
    }
}

/// A verifying key from a JWKS entry (`kty` EC, `crv` P-256).
pub(crate) fn decoding_key_of(jwk: &serde_json::Value) -> Option<(String, DecodingKey)> {
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
        return None;
    }
    let kid = jwk["kid"].as_str()?.to_owned();
    let key = DecodingKey::from_ec_components(jwk["x"].as_str()?, jwk["y"].as_str()?).ok()?;
    Some((kid, key))
}

fn verifying_key(pkcs8: &[u8]) -> Result<(String, VerifyingKey), KeyError> {
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
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid, "x": x, "y": y,
    });
    Ok((kid, VerifyingKey { decoding, jwk }))
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn settings(signing: Option<String>, retired: Vec<String>) -> AuthSettings {
        let mut auth = crate::Settings::with_overrides(serde_json::json!({}))
            .unwrap()
            .auth;
        auth.issuer = "https://issuer.test".into();
        auth.access_token_ttl_secs = 60;
        auth.signing_key_pem = signing.map(SecretString::from);
        auth.retired_keys_pem = retired.into_iter().map(SecretString::from).collect();
        auth
    }

    fn claims(keys: &KeySet) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: keys.issuer.clone(),
            aud: keys.audience.clone(),
            sub: Uuid::new_v4(),
            iat: now,
            nbf: now,
            exp: now + 60,
            jti: Uuid::now_v7(),
            role: Role::Client,
            gym: None,
            csrf: None,
        }
    }

    #[test]
    fn issued_tokens_verify() {
        let keys = KeySet::from_settings(&settings(None, vec![]), true).unwrap();
        let user = Uuid::new_v4();
        let (token, ttl) = keys.issue(user, Role::Client, None).unwrap();
        assert_eq!(ttl, 60);
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.role), (user, Role::Client));
        assert!((claims.issued_at_ms() - claims.iat * 1000).abs() < 1000);
    }

    #[test]
    fn every_way_a_token_can_be_wrong_is_refused() {
        let keys = KeySet::from_settings(&settings(None, vec![]), true).unwrap();
        let now = chrono::Utc::now().timestamp();
        let bad = [
            (
                "expired",
                Claims {
                    exp: now - 60,
                    iat: now - 120,
                    nbf: now - 120,
                    ..claims(&keys)
                },
            ),
            (
                "not yet valid",
                Claims {
                    nbf: now + 600,
                    ..claims(&keys)
                },
            ),
            (
                "wrong audience",
                Claims {
                    aud: "someone-else".into(),
                    ..claims(&keys)
                },
            ),
            (
                "wrong issuer",
                Claims {
                    iss: "https://evil.test".into(),
                    ..claims(&keys)
                },
            ),
        ];
        for (what, c) in bad {
            let token = keys.sign(&c).unwrap();
            assert!(keys.verify(&token).is_err(), "{what} was accepted");
        }
        // Signed by a key this set does not know, under its own kid and under ours.
        let stranger = KeySet::from_settings(&settings(None, vec![]), true).unwrap();
        let foreign = stranger.sign(&claims(&keys)).unwrap();
        assert!(keys.verify(&foreign).is_err(), "unknown kid was accepted");
        let parts: Vec<&str> = foreign.split('.').collect();
        let our_header = keys.sign(&claims(&keys)).unwrap();
        let forged = format!(
            "{}.{}.{}",
            our_header.split('.').next().unwrap(),
            parts[1],
            parts[2]
        );
        assert!(
            keys.verify(&forged).is_err(),
            "a wrong signature was accepted"
        );
        // alg: none, with a valid kid.
        let none = B64URL.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            keys.kid
        ));
        assert!(
            keys.verify(&format!("{none}.{}.", parts[1])).is_err(),
            "alg none was accepted"
        );
        // HS256 keyed with the public key (algorithm confusion).
        let hs = B64URL.encode(format!(
            r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#,
            keys.kid
        ));
        assert!(keys
            .verify(&format!("{hs}.{}.{}", parts[1], parts[2]))
            .is_err());
        assert!(keys.verify("not.a.token").is_err());
    }

    #[test]
    fn outside_all_a_signing_key_is_required() {
        let err = KeySet::from_settings(&settings(None, vec![]), false).unwrap_err();
        assert!(matches!(err, KeyError::Missing), "{err}");
    }

    #[test]
    fn rotation_keeps_retired_keys_verifying() {
        let old_pem = generate_pem().unwrap();
        let new_pem = generate_pem().unwrap();
        let before =
            KeySet::from_settings(&settings(Some(old_pem.clone()), vec![]), false).unwrap();
        let (old_token, _) = before.issue(Uuid::new_v4(), Role::Trainer, None).unwrap();
        let after = KeySet::from_settings(&settings(Some(new_pem), vec![old_pem]), false).unwrap();
        assert_ne!(before.kid(), after.kid());
        assert!(
            after.verify(&old_token).is_ok(),
            "a token of the retired key must still verify"
        );
        let (new_token, _) = after.issue(Uuid::new_v4(), Role::Trainer, None).unwrap();
        assert!(before.verify(&new_token).is_err());
        let jwks = after.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert_eq!(jwks["keys"][0]["kid"], after.kid());
    }
}
